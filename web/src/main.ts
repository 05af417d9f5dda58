// The page: packages with their latest release and downloads, a package's posts with live like and view counts
// (postCounters over SSE), and a like button. Plain DOM (textContent only, never HTML from data).
import {
  WebLikePostDocument,
  WebPackagePostsDocument,
  WebPackagesDocument,
  WebPostCountersDocument,
  WebTrendingDocument,
  WebViewerLikesDocument,
} from '../../schema/operations/graphql';
import { getToken, live, mutate, query, setToken } from './client';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string): void => {
  $('status').textContent = text;
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function item(data: Record<string, string>, ...children: (Node | string)[]): HTMLLIElement {
  const li = el('li', {}, ...children);
  Object.assign(li.dataset, data);
  return li;
}

async function showPackages(): Promise<void> {
  const { data, error } = await query(WebPackagesDocument, { first: 20 });
  if (error || !data) return status(`Could not load packages: ${error?.message ?? 'no data'}`);
  $('packages').replaceChildren(
    ...data.packages.edges.map(({ node }) =>
      item(
        { package: node.name },
        el('button', { type: 'button', onclick: () => void showPosts(node.name) }, node.displayName),
        el('div', { className: 'meta' }, `${node.latestRelease ? `v${node.latestRelease.version}` : 'no release'} · ${node.downloads.total} downloads`),
        el('div', { className: 'meta' }, node.summary),
      ),
    ),
  );
}

async function showTrending(): Promise<void> {
  const { data } = await query(WebTrendingDocument, { first: 5 });
  const names = data?.trendingPackages.map((row) => `${row.package.name} (${row.downloads})`) ?? [];
  $('trending').textContent = names.length ? `Trending this week: ${names.join(', ')}` : '';
}

const counters = new Map<string, { likes: HTMLElement; views: HTMLElement; button: HTMLButtonElement }>();
/** Live counters for the first posts shown: each is one SSE response, and HTTP/1.1 browsers open 6 per origin. */
const LIVE_POSTS = 4;
let stopLive: (() => void)[] = [];

async function showPosts(packageName: string): Promise<void> {
  for (const li of $('packages').querySelectorAll('li')) li.setAttribute('aria-current', String(li.dataset.package === packageName));
  const { data, error } = await query(WebPackagePostsDocument, { packageName, first: 20 });
  if (error || !data) return status(`Could not load posts: ${error?.message ?? 'no data'}`);
  counters.clear();
  for (const stop of stopLive) stop();
  const items = data.posts.edges.map(({ node }) => {
    const likes = el('span', { className: 'likes' }, String(node.likeCount));
    const views = el('span', { className: 'views' }, String(node.viewCount));
    const button = el('button', { type: 'button', className: 'like', disabled: !getToken(), onclick: () => void like(node.id) }, 'Like');
    button.setAttribute('aria-pressed', 'false');
    counters.set(node.id, { likes, views, button });
    return item(
      { post: node.id },
      el('strong', {}, node.title),
      el('div', { className: 'meta' }, `by ${node.author.name ?? 'someone'}`),
      el('div', { className: 'counts' }, button, el('span', {}, likes, ' likes'), el('span', {}, views, ' views')),
    );
  });
  $('posts').replaceChildren(...(items.length ? items : [el('li', { className: 'hint' }, 'No posts yet.')]));
  stopLive = data.posts.edges.slice(0, LIVE_POSTS).map(({ node }) =>
    live(WebPostCountersDocument, { postId: node.id }, ({ postCounters }) => {
      setCount(postCounters.postId, 'likes', postCounters.likeCount);
      setCount(postCounters.postId, 'views', postCounters.viewCount);
    }),
  );
  if (getToken()) {
    // Whether the viewer likes each post is per-user, so it is its own (uncached) request.
    const mine = await query(WebViewerLikesDocument, { packageName, first: 20 });
    for (const { node } of mine.data?.posts.edges ?? []) if (node.viewerHasLiked) markLiked(node.id);
  }
}

function markLiked(postId: string): void {
  const counter = counters.get(postId);
  if (!counter) return;
  counter.button.setAttribute('aria-pressed', 'true');
  counter.button.disabled = true;
  counter.button.textContent = 'Liked';
}

async function like(postId: string): Promise<void> {
  const counter = counters.get(postId);
  if (counter) counter.button.disabled = true;
  const { data, error } = await mutate(WebLikePostDocument, { postId });
  const result = data?.likePost;
  if (result?.__typename === 'LikePostSuccess') {
    setCount(postId, 'likes', result.post.likeCount);
    markLiked(postId);
    status('');
    return;
  }
  if (counter) counter.button.disabled = false;
  status(`Like failed: ${error?.message ?? (result && 'message' in result ? result.message : 'unknown')}`);
}

export function setCount(postId: string, which: 'likes' | 'views', value: number): void {
  const counter = counters.get(postId);
  if (counter) counter[which].textContent = String(value);
}

$('sign-in').addEventListener('submit', (event) => {
  event.preventDefault();
  setToken($<HTMLInputElement>('token').value.trim());
  location.reload();
});
$('who').textContent = getToken() ? 'signed in' : 'anonymous';

void showPackages();
void showTrending();
