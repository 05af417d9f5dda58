// GraphQL documents of the registry tests (yank, drafts, publish tokens, downloads, rankings), errors spelled out.
const ERROR_FIELDS = `... on Error { code message } ... on ValidationError { problems { path message } }`;
const CONFLICT_FIELDS = `${ERROR_FIELDS} ... on ConflictError { currentVersion }`;

export const RELEASE_FIELDS = `version sizeBytes notes yanked yankedReason downloads`;

export const YANK_RELEASE = `mutation ($input: YankReleaseInput!) {
  yankRelease(input: $input) { __typename ... on YankReleaseSuccess { release { ${RELEASE_FIELDS} } package { latestRelease { version } } } ${ERROR_FIELDS} }
}`;

export const UNYANK_RELEASE = `mutation ($input: UnyankReleaseInput!) {
  unyankRelease(input: $input) { __typename ... on UnyankReleaseSuccess { release { ${RELEASE_FIELDS} } package { latestRelease { version } } } ${ERROR_FIELDS} }
}`;

export const DRAFT_FIELDS = `version notes sizeBytes revision`;

export const CREATE_DRAFT = `mutation ($input: CreateReleaseDraftInput!) {
  createReleaseDraft(input: $input) { __typename ... on CreateReleaseDraftSuccess { draft { ${DRAFT_FIELDS} } } ${CONFLICT_FIELDS} }
}`;

export const UPDATE_DRAFT = `mutation ($input: UpdateReleaseDraftInput!) {
  updateReleaseDraft(input: $input) { __typename ... on UpdateReleaseDraftSuccess { draft { ${DRAFT_FIELDS} } } ${CONFLICT_FIELDS} }
}`;

export const PUBLISH_DRAFT = `mutation ($input: PublishReleaseDraftInput!) {
  publishReleaseDraft(input: $input) { __typename ... on PublishReleaseDraftSuccess { release { ${RELEASE_FIELDS} } package { releaseCount latestRelease { version } } } ${CONFLICT_FIELDS} }
}`;

export const DELETE_DRAFT = `mutation ($input: DeleteReleaseDraftInput!) {
  deleteReleaseDraft(input: $input) { __typename ... on DeleteReleaseDraftSuccess { version } ${ERROR_FIELDS} }
}`;

export const CREATE_PUBLISH_TOKEN = `mutation ($input: CreatePublishTokenInput!) {
  createPublishToken(input: $input) { __typename ... on CreatePublishTokenSuccess { secret publishToken { id name prefix packageNames createdAt lastUsedAt expiresAt } } ${ERROR_FIELDS} }
}`;

export const REVOKE_PUBLISH_TOKEN = `mutation ($id: ID!) {
  revokePublishToken(id: $id) { __typename ... on RevokePublishTokenSuccess { publishToken { id name } } ${ERROR_FIELDS} }
}`;

export const RECORD_DOWNLOAD = `mutation ($input: RecordDownloadInput!) {
  recordDownload(input: $input) { __typename ... on RecordDownloadSuccess { release { version downloads } } ${ERROR_FIELDS} }
}`;

export const TOP_LIKED_POSTS = `query ($name: String!) { package(name: $name) { topLikedPosts { likeCount post { id likeCount } } } }`;

export const TOP_PACKAGES = `query ($by: TopBy!, $first: Int) { topPackages(by: $by, first: $first) { name } }`;
