// The GraphQL schema: each domain registers its types, queries and mutations on the builder when imported.
import { builder } from './builder.js';
import './errors.schema.js';
import './users/user.schema.js';
import './packages/package.schema.js';
import './packages/draft.schema.js';
import './tokens/publish-token.schema.js';
import './downloads/download.schema.js';
import './posts/post.schema.js';
import './credits/credits.schema.js';
import './stats/stats.schema.js';
import './live/live.schema.js';

export const schema = builder.toSchema({ sortSchema: true });
