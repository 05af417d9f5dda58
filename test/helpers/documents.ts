// GraphQL documents the tests send, with every result type spelled out so failures show their code.
export const PACKAGE_FIELDS = `name displayName summary description version releaseCount postCount keywords lastUpdated
  maintainers { id } latestRelease { version } releases { version publishedAt sizeBytes notes }`;

const ERROR_FIELDS = `... on Error { code message } ... on ValidationError { problems { path message } }`;
const CONFLICT_FIELDS = `${ERROR_FIELDS} ... on ConflictError { currentVersion }`;

export const CREATE_PACKAGE = `mutation ($input: CreatePackageInput!) {
  createPackage(input: $input) { __typename ... on CreatePackageSuccess { package { ${PACKAGE_FIELDS} } } ${ERROR_FIELDS} }
}`;

export const PUBLISH_RELEASE = `mutation ($input: PublishReleaseInput!) {
  publishRelease(input: $input) { __typename ... on PublishReleaseSuccess { release { version publishedAt sizeBytes notes } package { ${PACKAGE_FIELDS} } } ${CONFLICT_FIELDS} }
}`;

export const UPDATE_PACKAGE = `mutation ($input: UpdatePackageInput!) {
  updatePackage(input: $input) { __typename ... on UpdatePackageSuccess { package { ${PACKAGE_FIELDS} } } ${CONFLICT_FIELDS} }
}`;

export const ADD_KEYWORDS = `mutation ($input: AddKeywordsInput!) {
  addKeywords(input: $input) { __typename ... on AddKeywordsSuccess { package { ${PACKAGE_FIELDS} } } ${ERROR_FIELDS} }
}`;

export const POST_FIELDS = `id title body likeCount viewCount viewerHasLiked lastViewedAt createdAt author { id name } package { name }`;

export const CREATE_POST = `mutation ($input: CreatePostInput!) {
  createPost(input: $input) { __typename ... on CreatePostSuccess { post { ${POST_FIELDS} } } ${ERROR_FIELDS} }
}`;

export const UPDATE_POST = `mutation ($input: UpdatePostInput!) {
  updatePost(input: $input) { __typename ... on UpdatePostSuccess { post { id title body version } } ${CONFLICT_FIELDS} }
}`;

export const DELETE_POST = `mutation ($input: DeletePostInput!) {
  deletePost(input: $input) { __typename ... on DeletePostSuccess { postId } ${CONFLICT_FIELDS} }
}`;

export const LIKE_POST = `mutation ($postId: ID!) {
  likePost(postId: $postId) { __typename ... on LikePostSuccess { post { ${POST_FIELDS} } } ${ERROR_FIELDS} }
}`;

export const UNLIKE_POST = `mutation ($postId: ID!) {
  unlikePost(postId: $postId) { __typename ... on LikePostSuccess { post { ${POST_FIELDS} } } ${ERROR_FIELDS} }
}`;

export const RECORD_VIEW = `mutation ($postId: ID!) {
  recordView(postId: $postId) { __typename ... on RecordViewSuccess { post { ${POST_FIELDS} } } ${ERROR_FIELDS} }
}`;

export const REGISTRY_STATS = `{ registryStats { totalPackages totalReleases totalPosts } }`;
