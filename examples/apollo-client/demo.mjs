// What a frontend does with the client: classify a picked file, and tag a catalogue while
// following the job live. Run against a gateway from Node 20:
//
//   CLIP_API_KEY=<write key> node examples/apollo-client/demo.mjs photo.png 'red circle' 'blue star'
//
// (CLIP_GATEWAY_URL, default http://localhost:4000/graphql; PERSISTED_QUERIES_MANIFEST, the list
// the gateway safelists, default none: automatic persisted queries.)
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

import WebSocket from 'ws';

import { createClipClient } from './client.mjs';
import { CLASSIFY, FOLLOW_TAGGING_JOB, PRODUCTS_UPSERT, TAGGING_JOB_START, TAXONOMY_SET } from './operations.mjs';

/** The labels of one image (a File or Blob, as an <input type="file"> gives it), best first. */
export async function classifyFile(client, file, labels) {
  // no-cache: a File has no identity the cache could key on, so every classification is asked for.
  const { data } = await client.query({ query: CLASSIFY, variables: { images: [{ file }], labels }, fetchPolicy: 'no-cache' });
  return data.classify[0].labels;
}

/** A mutation's payload, or an Error naming its userErrors. */
async function mutate(client, mutation, variables) {
  const { data } = await client.mutate({ mutation, variables });
  const [payload] = Object.values(data);
  if (payload.userErrors.length > 0) throw new Error(payload.userErrors.map((e) => `${e.code}: ${e.message}`).join('\n'));
  return payload;
}

/** Every state a tagging job passes through, as the subscription sends them, until it has ended. */
export function followTaggingJob(client, id, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const states = [];
    client.subscribe({ query: FOLLOW_TAGGING_JOB, variables: { id } }).subscribe({
      next: ({ data, error }) => {
        if (error) return reject(error);
        states.push(data.taggingJob);
        onProgress(data.taggingJob);
      },
      error: reject,
      complete: () => resolve(states),
    });
  });
}

/** Sets the taxonomy, stores the products (images may be files), then re-tags them all in a job followed to its end. */
export async function tagCatalogue(client, { facets, products }, onProgress) {
  await mutate(client, TAXONOMY_SET, { facets });
  await mutate(client, PRODUCTS_UPSERT, { products });
  const { job } = await mutate(client, TAGGING_JOB_START, {});
  return followTaggingJob(client, job.id, onProgress);
}

async function main([image, ...labels]) {
  if (!image || labels.length === 0) throw new Error('Usage: node demo.mjs <image.png|jpg|webp> <label> <label>...');
  const manifestPath = process.env.PERSISTED_QUERIES_MANIFEST;
  const { client, close } = createClipClient({
    url: process.env.CLIP_GATEWAY_URL ?? 'http://localhost:4000/graphql',
    apiKey: process.env.CLIP_API_KEY,
    WebSocketImpl: WebSocket,
    manifest: manifestPath ? JSON.parse(readFileSync(manifestPath, 'utf8')) : undefined,
  });
  try {
    const file = new File([readFileSync(image)], basename(image));
    console.log(JSON.stringify(await classifyFile(client, file, labels), null, 2));
    const { job } = await mutate(client, TAGGING_JOB_START, {});
    await followTaggingJob(client, job.id, (state) => console.log(`${state.status} ${state.processed}/${state.total}`));
  } finally {
    await close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
