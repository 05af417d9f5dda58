// DELIBERATELY WRONG: a tiny HTTP server whose createPost is two plain writes with the real driver (insert the
// post, then $inc its package's postCount), run as killable processes to prove the crash test bites: a kill or a
// lost connection between the two writes leaves postCount below the number of posts, and nothing repairs it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoClient, ObjectId } from 'mongodb';

const client = new MongoClient(process.env.MONGODB_URI!);
const db = client.db(process.env.MONGODB_DB);
await client.connect();

interface CreatePostInput {
  title: string;
  body: string;
  packageName: string;
}

async function createPost(input: CreatePostInput): Promise<unknown> {
  const post = { _id: new ObjectId(), title: input.title, body: input.body, packageName: input.packageName, version: 1 };
  await db.collection('posts').insertOne(post);
  await db.collection('packages').updateOne({ _id: input.packageName as never }, { $inc: { postCount: 1 } });
  return { createPost: { __typename: 'CreatePostSuccess', post: { id: post._id.toHexString(), version: 1 } } };
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let request: { query?: string; variables?: { input?: CreatePostInput } };
    try {
      request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return reply(400, { errors: [{ message: 'bad JSON' }] });
    }
    if (!request.query?.includes('createPost') || !request.variables?.input) {
      return reply(400, { errors: [{ message: 'only createPost(input) is served' }] });
    }
    createPost(request.variables.input).then(
      (data) => reply(200, { data }),
      (error: unknown) => reply(500, { errors: [{ message: String(error), extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }),
    );
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.once('SIGTERM', () => process.exit(0));
