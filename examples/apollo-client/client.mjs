// An Apollo Client for clip-gateway, as a frontend would make it: files go as GraphQL multipart
// requests (apollo-upload-client), queries and mutations by the id of the persisted query list
// (no query text), subscriptions over WebSocket (graphql-ws). Plain ESM that runs in a browser,
// through a bundler, and in Node 20 (which has File, Blob, FormData and fetch; pass `ws` there).
import { ApolloClient, ApolloLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';
import { createClient } from 'graphql-ws';

/** SHA-256 in hex with Web Crypto (browsers in secure contexts, Node 20): the hash a gateway keeps operations by. */
async function sha256(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * The persisted query link. With the gateway's persisted query list (PERSISTED_QUERIES=safelist),
 * each operation goes as the id the list gives its name, and never as text: a safelisting gateway
 * runs nothing else, so sending the text after a PERSISTED_QUERY_NOT_FOUND could not help. Without
 * a list, Apollo's automatic persisted queries (the gateway's default): the hash, then the text
 * once if the gateway asks for it.
 */
function persistedQueryLink(manifest) {
  if (!manifest) return new PersistedQueryLink({ sha256 });
  return new PersistedQueryLink({
    ...generatePersistedQueryIdsFromManifest({ loadManifest: () => manifest }),
    retry: () => false,
  });
}

/**
 * @param {object} options
 * @param {string} options.url The gateway's GraphQL endpoint, e.g. `https://clip.example.com/graphql`.
 * @param {string} [options.wsUrl] Its WebSocket endpoint for subscriptions. Default: `url` with ws(s): for http(s):.
 * @param {string} [options.apiKey] An API key (API_KEYS): a read key for queries and subscriptions, a write key for mutations. Default none.
 * @param {typeof WebSocket} [options.WebSocketImpl] The WebSocket class. Default the global one (browsers; Node 22); in Node 20 pass `ws`.
 * @param {{ operations: { id: string, name: string }[] }} [options.manifest] The persisted query list made from operations.mjs. Default none: automatic persisted queries.
 * @param {typeof fetch} [options.fetch] The fetch to send HTTP requests with. Default the global one.
 * @returns {{ client: ApolloClient, close: () => Promise<void> }} `close` stops the client and closes its WebSocket.
 */
export function createClipClient({ url, wsUrl = url.replace(/^http/, 'ws'), apiKey, WebSocketImpl, manifest, fetch }) {
  const authorization = apiKey ? `Bearer ${apiKey}` : undefined;
  const http = new UploadHttpLink({
    uri: url,
    fetch,
    // Apollo's CSRF prevention takes a multipart form (what a browser may send cross-site unasked)
    // only with a header that makes the browser ask first.
    headers: { 'apollo-require-preflight': 'true', ...(authorization ? { authorization } : {}) },
  });
  // Apollo's GraphQLWsLink reads the global WebSocket when it sorts out an error (apollographql/
  // apollo-client#11761): where there is none (Node 20), a refused subscription would surface as
  // "WebSocket is not defined" instead of the gateway's error.
  if (WebSocketImpl && typeof globalThis.WebSocket === 'undefined') globalThis.WebSocket = WebSocketImpl;
  const ws = createClient({
    url: wsUrl,
    webSocketImpl: WebSocketImpl,
    // The gateway reads the key from the connection's init message, as the HTTP header would carry it.
    connectionParams: authorization ? { authorization } : undefined,
  });
  const link = ApolloLink.split(
    ({ operationType }) => operationType === 'subscription',
    // graphql-ws sends an operation's text; a safelisting gateway runs it only if its hash is listed.
    new GraphQLWsLink(ws),
    ApolloLink.from([persistedQueryLink(manifest), http]),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  return {
    client,
    async close() {
      client.stop();
      await ws.dispose();
    },
  };
}
