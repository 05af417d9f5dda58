// GraphQL documents of the credits tests, with every result type spelled out so failures show their code.
const ERRORS = `... on Error { code message } ... on InsufficientFundsError { available } ... on ValidationError { problems { path message } }`;

export const SPONSOR = `mutation ($input: SponsorPackageInput!) {
  sponsorPackage(input: $input) { __typename ... on SponsorPackageSuccess { balance transfer { id kind amount status createdAt } } ${ERRORS} }
}`;

export const WITHDRAW = `mutation ($input: WithdrawSponsorshipInput!) {
  withdrawSponsorship(input: $input) { __typename ... on WithdrawSponsorshipSuccess { balance transfer { id kind amount status createdAt } } ${ERRORS} }
}`;

export const REQUEST_PAYOUT = `mutation ($input: RequestPayoutInput!) {
  requestPayout(input: $input) { __typename ... on RequestPayoutSuccess { balance payout { id amount status } } ${ERRORS} }
}`;

export const VIEWER_CREDITS = `{ viewer { id credits } }`;
