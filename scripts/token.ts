// `npm run token -- <userId> [name]`: prints a 12-hour HS256 token signed with AUTH_JWT_SECRET.
import { signToken } from '../src/auth/token.js';

const [userId, name] = process.argv.slice(2);
if (!userId) {
  console.error('usage: npm run token -- <userId> [name]');
  process.exit(2);
}
if (!process.env.AUTH_JWT_SECRET) {
  console.error('AUTH_JWT_SECRET is not set: export the secret the API uses, then run this again.');
  process.exit(2);
}
console.log(await signToken(userId, { name }));
