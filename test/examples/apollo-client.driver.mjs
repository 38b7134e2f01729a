// Runs the example frontend (examples/apollo-client) in Node as a page would run it, against the
// gateway named in CLIP_DRIVER (JSON: url, apiKey, manifest path, the image to classify, the
// catalogue to tag), and prints what it saw as one JSON object. apollo-client.test.ts starts it:
// jest runs CommonJS, and Apollo Client's upload link is ESM only.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { gql } from '@apollo/client';
import WebSocket from 'ws';

import { createClipClient } from '../../examples/apollo-client/client.mjs';
import { classifyFile, tagCatalogue } from '../../examples/apollo-client/demo.mjs';

const input = JSON.parse(process.env.CLIP_DRIVER);
const fileOf = (path) => new File([readFileSync(path)], basename(path), { type: 'image/png' });

/** What each HTTP request carried: a multipart form or JSON, the query text if any, the persisted query hash. */
const requests = [];
async function recordingFetch(url, init) {
  const multipart = init.body instanceof FormData;
  const body = JSON.parse(multipart ? init.body.get('operations') : init.body);
  requests.push({
    multipart,
    files: multipart ? [...init.body.keys()].filter((key) => key !== 'operations' && key !== 'map').length : 0,
    query: body.query ?? null,
    hash: body.extensions?.persistedQuery?.sha256Hash ?? null,
    preflight: init.headers['apollo-require-preflight'] ?? null,
  });
  return fetch(url, init);
}

/** An operation the list does not hold, as the gateway answers it (or the client refuses to send it). */
const refusal = (error) => ({ message: error.message, codes: (error.errors ?? []).map((e) => e.extensions?.code) });

const { client, close } = createClipClient({
  url: input.url,
  apiKey: input.apiKey,
  WebSocketImpl: WebSocket,
  manifest: JSON.parse(readFileSync(input.manifest, 'utf8')),
  fetch: recordingFetch,
});
try {
  const classified = await classifyFile(client, fileOf(input.image), input.labels);
  const products = input.products.map(({ id, title, image }) => ({ id, title, images: [{ file: fileOf(image) }] }));
  const states = await tagCatalogue(client, { facets: input.facets, products });

  // Not in the list: a query by fetch with its text, the same through the client (which has no id
  // for it), and a subscription over the WebSocket.
  const raw = await fetch(input.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${input.apiKey}` },
    body: JSON.stringify({ query: '{ model { name } }' }),
  });
  const unlistedQuery = await client
    .query({
      query: gql`
        query Unlisted {
          model {
            name
          }
        }
      `,
      fetchPolicy: 'no-cache',
    })
    .then(() => null, refusal);
  const unlistedOverWs = await new Promise((resolve) =>
    client
      .subscribe({
        query: gql`
          subscription Unlisted($id: ID!) {
            taggingJob(id: $id) {
              id
            }
          }
        `,
        variables: { id: states[0].id },
      })
      .subscribe({
        next: ({ error }) => resolve(error ? refusal(error) : null),
        error: (error) => resolve(refusal(error)),
        complete: () => resolve(null),
      }),
  );

  console.log(
    JSON.stringify({
      classified,
      states,
      requests,
      unlisted: { raw: { status: raw.status, body: await raw.json() }, query: unlistedQuery, subscription: unlistedOverWs },
    }),
  );
} finally {
  await close();
}
