import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { parse } from 'graphql';
import Upload from 'graphql-upload/Upload.js';

import { defaultConfig } from '../../gateway/config';
import { UPLOAD_NEEDS_PREFLIGHT } from '../../gateway/host';
import { operationDemand } from '../../gateway/limits';
import { buildGatewaySchema } from '../../gateway/schema';
import { startGateway, type RunningGateway } from '../helpers/gateway';
import { TINY_CLIP_DIR } from '../helpers/tiny-clip';

const IMAGES = join(TINY_CLIP_DIR, 'images');
const STAR = readFileSync(join(IMAGES, 'tall-blue-star.png'));
const CIRCLE = readFileSync(join(IMAGES, 'wide-red-circle.jpg'));
const LABELS = ['red circle', 'blue star', 'green square'];
const MiB = 1024 * 1024;
/** IMAGE_MAX_BYTES for these tests: small, so that a file many times over it is cheap to send. */
const MAX_IMAGE_BYTES = 1 * MiB;
const PREFLIGHT = { 'apollo-require-preflight': 'true' };

interface Answer<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
}

/** A file of a multipart request: its part's field name, where the map puts it, and its content. */
interface Part {
  paths: string[];
  bytes: Uint8Array;
  name?: string;
  type?: string;
}

/** A GraphQL multipart request body as the spec lays it out (operations, map, then the files), made by Node's FormData. */
function multipart(query: string, variables: Record<string, unknown>, files: Record<string, Part>): FormData {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables }));
  form.append('map', JSON.stringify(Object.fromEntries(Object.entries(files).map(([field, file]) => [field, file.paths]))));
  for (const [field, file] of Object.entries(files)) {
    form.append(field, new Blob([file.bytes], { type: file.type ?? 'image/png' }), file.name ?? `${field}.png`);
  }
  return form;
}

describe('GraphQL multipart uploads', () => {
  let gw: RunningGateway;

  const post = async <T = Record<string, unknown>>(
    body: RequestInit['body'],
    headers: Record<string, string> = PREFLIGHT,
  ): Promise<Answer<T>> => {
    const response = await fetch(`${gw.origin}/graphql`, { method: 'POST', headers, body });
    return { status: response.status, ...((await response.json()) as object) };
  };
  const send = <T = Record<string, unknown>>(query: string, variables: Record<string, unknown>, files: Record<string, Part>) =>
    post<T>(multipart(query, variables, files));

  beforeAll(async () => {
    const base = defaultConfig();
    gw = await startGateway({
      imageLimits: { ...base.imageLimits, maxBytes: MAX_IMAGE_BYTES },
      // At most max(2 × 4, 4 × 2) = 8 files a request.
      maxInputsPerRequest: 4,
      catalogue: { ...base.catalogue, maxProducts: 4, maxImagesPerProduct: 2 },
    });
  });
  afterAll(() => gw?.stop());

  const CLASSIFY = `query($i: [ImageInput!]!, $l: [String!]!) { classify(images: $i, labels: $l) { labels { label score } } }`;
  type Classified = { classify: ({ labels: { label: string; score: number }[] } | null)[] };

  it('classifies an uploaded PNG exactly as the same image sent as base64', async () => {
    const uploaded = await send<Classified>(
      CLASSIFY,
      { i: [{ file: null }], l: LABELS },
      { 0: { paths: ['variables.i.0.file'], bytes: STAR } },
    );
    const inline = await gw.graphql<Classified>(CLASSIFY, { i: [{ base64: STAR.toString('base64') }], l: LABELS });
    expect(uploaded.errors).toBeUndefined();
    expect(uploaded.status).toBe(200);
    expect(uploaded.data!.classify[0]!.labels[0].label).toBe('blue star');
    expect(uploaded.data).toEqual(inline.data);
  });

  it('embeds an uploaded file (MediaInput.imageFile) to the vector of its base64, and one file mapped twice is one answer in both places', async () => {
    type Embedded = { embed: { vector: number[] }[] };
    const query = `query($in: [MediaInput!]!) { embed(inputs: $in) { vector } }`;
    const uploaded = await send<Embedded>(
      query,
      { in: [{ imageFile: null }, { text: 'a blue star' }, { imageFile: null }, { imageFile: null }] },
      {
        0: { paths: ['variables.in.0.imageFile', 'variables.in.3.imageFile'], bytes: STAR },
        1: { paths: ['variables.in.2.imageFile'], bytes: CIRCLE, type: 'image/jpeg', name: 'circle.jpg' },
      },
    );
    const inline = await gw.graphql<Embedded>(query, {
      in: [{ imageBase64: STAR.toString('base64') }, { text: 'a blue star' }, { imageBase64: CIRCLE.toString('base64') }],
    });
    expect(uploaded.errors).toBeUndefined();
    expect(uploaded.data!.embed.slice(0, 3)).toEqual(inline.data!.embed);
    expect(uploaded.data!.embed[3]).toEqual(inline.data!.embed[0]);
  });

  it('compares uploads in similarity, image to image and to text', async () => {
    type Similar = { similarity: number[][] };
    const query = `query($a: [MediaInput!]!, $b: [MediaInput!]!) { similarity(a: $a, b: $b) }`;
    const uploaded = await send<Similar>(
      query,
      { a: [{ imageFile: null }], b: [{ imageFile: null }, { text: 'a blue star' }] },
      { 0: { paths: ['variables.a.0.imageFile'], bytes: STAR }, 1: { paths: ['variables.b.0.imageFile'], bytes: CIRCLE } },
    );
    const inline = await gw.graphql<Similar>(query, {
      a: [{ imageBase64: STAR.toString('base64') }],
      b: [{ imageBase64: CIRCLE.toString('base64') }, { text: 'a blue star' }],
    });
    expect(uploaded.errors).toBeUndefined();
    expect(uploaded.data).toEqual(inline.data);
  });

  it('stores products whose images are uploads, searchable by an uploaded picture; a bad one fails at its file', async () => {
    type Upserted = {
      productsUpsert: {
        products: ({ id: string; imageUrls: (string | null)[] } | null)[];
        userErrors: { field: string[]; code: string }[];
      };
    };
    const upsert = await send<Upserted>(
      `mutation($p: [ProductInput!]!) { productsUpsert(products: $p) { products { id imageUrls } userErrors { field code } } }`,
      {
        p: [
          { id: 'u-star', title: 'Star', images: [{ file: null }] },
          { id: 'u-circle', title: 'Circle', images: [{ url: null, file: null }, { file: null }] },
          { id: 'u-bad', images: [{ file: null }] },
        ],
      },
      {
        0: { paths: ['variables.p.0.images.0.file'], bytes: STAR },
        1: { paths: ['variables.p.1.images.0.file', 'variables.p.1.images.1.file'], bytes: CIRCLE },
        2: { paths: ['variables.p.2.images.0.file'], bytes: new TextEncoder().encode('not an image'), type: 'text/plain' },
      },
    );
    expect(upsert.errors).toBeUndefined();
    const payload = upsert.data!.productsUpsert;
    expect(payload.products.map((p) => p?.id ?? null)).toEqual(['u-star', 'u-circle', null]);
    expect(payload.products[0]!.imageUrls).toEqual([null]);
    expect(payload.userErrors).toEqual([{ field: ['products', '2', 'images', '0', 'file'], code: expect.any(String) }]);
    expect(payload.userErrors[0].code).not.toBe('INTERNAL_SERVER_ERROR');

    type Found = { productSearch: { product: { id: string } }[] };
    const search = await send<Found>(
      `query($q: SearchQuery!) { productSearch(query: $q, first: 2) { product { id } } }`,
      { q: { image: { file: null } } },
      { 0: { paths: ['variables.q.image.file'], bytes: STAR } },
    );
    expect(search.errors).toBeUndefined();
    expect(search.data!.productSearch[0].product.id).toBe('u-star');
  });

  it('fails a file that is not an image alone, at its path, as the same bytes in base64 fail', async () => {
    const text = new TextEncoder().encode('plain text, not a picture');
    const uploaded = await send<Classified>(
      CLASSIFY,
      { i: [{ file: null }, { file: null }], l: LABELS },
      {
        0: { paths: ['variables.i.0.file'], bytes: text, type: 'text/plain', name: 'notes.txt' },
        1: { paths: ['variables.i.1.file'], bytes: STAR },
      },
    );
    const inline = await gw.graphql<Classified>(CLASSIFY, { i: [{ base64: Buffer.from(text).toString('base64') }], l: LABELS });
    expect(uploaded.status).toBe(200);
    expect(uploaded.data!.classify[0]).toBeNull();
    expect(uploaded.data!.classify[1]!.labels[0].label).toBe('blue star');
    expect(uploaded.errors).toHaveLength(1);
    expect(uploaded.errors![0]).toMatchObject({ path: ['classify', 0], message: inline.errors![0].message });
    expect(uploaded.errors![0].extensions?.code).toBe(inline.errors![0].extensions?.code);
  });

  it('asks for exactly one field, the file among them', async () => {
    const answer = await send<Classified>(
      CLASSIFY,
      { i: [{ base64: STAR.toString('base64'), file: null }], l: LABELS },
      { 0: { paths: ['variables.i.0.file'], bytes: STAR } },
    );
    expect(answer.errors?.map((e) => e.message)).toEqual(['images[0]: Set exactly one of url, base64, file; base64 and file are set.']);
  });

  it('counts each uploaded file as an image in the demand admission weighs', async () => {
    const schema = await buildGatewaySchema();
    // The variables as graphql-upload leaves them, an Upload where the map puts each file.
    const demand = (query: string, variables: Record<string, unknown>) => operationDemand(schema, parse(query), undefined, variables);
    expect(demand(CLASSIFY, { i: [{ file: new Upload() }, { base64: 'AAAA' }], l: LABELS })).toMatchObject({ images: 2, texts: 0 });
    const embed = demand(`query($in: [MediaInput!]!) { embed(inputs: $in) { dim } }`, { in: [{ imageFile: new Upload() }, { text: 'a' }] });
    expect(embed).toMatchObject({ images: 1, texts: 1 });
    const upsert = demand(`mutation($p: [ProductInput!]!) { productsUpsert(products: $p) { userErrors { message } } }`, {
      p: [{ id: 'a', images: [{ file: new Upload() }, { file: new Upload() }] }],
    });
    expect(upsert).toMatchObject({ images: 2 });
  });

  it('refuses a multipart request without a preflight header in one sentence that names the header', async () => {
    const answer = await post(
      multipart(CLASSIFY, { i: [{ file: null }], l: LABELS }, { 0: { paths: ['variables.i.0.file'], bytes: STAR } }),
      {},
    );
    expect(answer).toEqual({ status: 400, errors: [{ message: UPLOAD_NEEDS_PREFLIGHT, extensions: { code: 'BAD_REQUEST' } }] });
    expect(UPLOAD_NEEDS_PREFLIGHT).toMatch(/apollo-require-preflight: true/);
    // Apollo's other preflight header does as well.
    const named = await post(
      multipart(CLASSIFY, { i: [{ file: null }], l: LABELS }, { 0: { paths: ['variables.i.0.file'], bytes: STAR } }),
      {
        'x-apollo-operation-name': 'Classify',
      },
    );
    expect(named.errors).toBeUndefined();
  });

  describe('a file over IMAGE_MAX_BYTES', () => {
    const BOUNDARY = 'clip-gateway-test-boundary';
    /** What the memory test sends: large enough that its size stands out from the garbage of reading it. */
    const BIG_FILE_BYTES = 256 * MiB;

    /**
     * The start of a spec multipart body written by hand as a stream: operations, map, and the first
     * `stallAfter` bytes of a file, after which it sends nothing more, as a client that stops sending.
     */
    function stallingBody(stallAfter: number, stalled: () => void): ReadableStream<Uint8Array> {
      const text = (value: string) => new TextEncoder().encode(value);
      const part = (headers: string) => text(`--${BOUNDARY}\r\n${headers}\r\n\r\n`);
      const operations = JSON.stringify({ query: CLASSIFY, variables: { i: [{ file: null }], l: LABELS } });
      const chunk = new Uint8Array(64 * 1024).fill(0x5a);
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(part('Content-Disposition: form-data; name="operations"'));
          controller.enqueue(text(`${operations}\r\n`));
          controller.enqueue(part('Content-Disposition: form-data; name="map"'));
          controller.enqueue(text(`${JSON.stringify({ big: ['variables.i.0.file'] })}\r\n`));
          controller.enqueue(part('Content-Disposition: form-data; name="big"; filename="big.png"\r\nContent-Type: image/png'));
        },
        async pull(controller) {
          if (sent >= stallAfter) {
            stalled();
            return new Promise<void>(() => {});
          }
          controller.enqueue(chunk);
          sent += chunk.byteLength;
        },
      });
    }

    const postStream = (body: ReadableStream<Uint8Array>, signal?: AbortSignal) =>
      fetch(`${gw.origin}/graphql`, {
        method: 'POST',
        headers: { ...PREFLIGHT, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body,
        duplex: 'half',
        signal,
      } as RequestInit);

    /**
     * A spec multipart body written by hand, sent from a child process with node:http (its writes
     * waiting for 'drain') so that this process's memory is the gateway's alone: operations, map, a
     * `fileBytes` file generated chunk by chunk (nothing of its size exists anywhere), then a small PNG.
     */
    async function sendFromChild(fileBytes: number): Promise<Answer<Classified>> {
      const client = `
        const { readFileSync } = require('node:fs');
        const { request } = require('node:http');
        const { URL_, BOUNDARY, FILE_BYTES, STAR_PATH, OPERATIONS, MAP } = process.env;
        const part = (headers) => Buffer.from('--' + BOUNDARY + '\\r\\n' + headers + '\\r\\n\\r\\n');
        const headers = { 'apollo-require-preflight': 'true', 'content-type': 'multipart/form-data; boundary=' + BOUNDARY };
        const req = request(URL_, { method: 'POST', headers }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (text) => (body += text)).on('end', () => console.log(JSON.stringify({ status: res.statusCode, body })));
        });
        req.on('error', (error) => { console.error(String(error)); process.exit(1); });
        (async () => {
          req.write(part('Content-Disposition: form-data; name="operations"'));
          req.write(OPERATIONS + '\\r\\n');
          req.write(part('Content-Disposition: form-data; name="map"'));
          req.write(MAP + '\\r\\n');
          req.write(part('Content-Disposition: form-data; name="big"; filename="big.png"\\r\\nContent-Type: image/png'));
          const chunk = Buffer.alloc(64 * 1024, 0x5a);
          for (let sent = 0; sent < Number(FILE_BYTES); sent += chunk.length)
            if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve));
          req.write('\\r\\n');
          req.write(part('Content-Disposition: form-data; name="small"; filename="star.png"\\r\\nContent-Type: image/png'));
          req.write(readFileSync(STAR_PATH));
          req.end('\\r\\n--' + BOUNDARY + '--\\r\\n');
        })();
      `;
      const { stdout } = await promisify(execFile)(process.execPath, ['-e', client], {
        env: {
          ...process.env,
          URL_: `${gw.origin}/graphql`,
          BOUNDARY,
          FILE_BYTES: String(fileBytes),
          STAR_PATH: join(IMAGES, 'tall-blue-star.png'),
          OPERATIONS: JSON.stringify({ query: CLASSIFY, variables: { i: [{ file: null }, { file: null }], l: LABELS } }),
          MAP: JSON.stringify({ big: ['variables.i.0.file'], small: ['variables.i.1.file'] }),
        },
      });
      const { status, body } = JSON.parse(stdout) as { status: number; body: string };
      return { status, ...(JSON.parse(body) as object) };
    }

    it('is refused with INPUT_TOO_LARGE while it streams, its neighbour answered, and the memory does not grow by its size', async () => {
      // Everything this path loads is loaded, its buffers and pools made, before the baseline is taken.
      const first = await sendFromChild(8 * MiB);
      expect(first.errors?.[0].extensions?.code).toBe('INPUT_TOO_LARGE');
      const before = process.memoryUsage();
      const peak = { rss: before.rss, arrayBuffers: before.arrayBuffers };
      const sample = setInterval(() => {
        const now = process.memoryUsage();
        peak.rss = Math.max(peak.rss, now.rss);
        peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
      }, 5);
      let answer: Answer<Classified>;
      try {
        answer = await sendFromChild(BIG_FILE_BYTES);
      } finally {
        clearInterval(sample);
      }
      const growth = { rss: peak.rss - before.rss, arrayBuffers: peak.arrayBuffers - before.arrayBuffers };
      // Printed for the record; the bound is what the test holds.
      process.stdout.write(`gateway memory growth while a ${BIG_FILE_BYTES} byte file streamed in: ${JSON.stringify(growth)}\n`);
      expect(answer.status).toBe(200);
      expect(answer.data!.classify[0]).toBeNull();
      expect(answer.data!.classify[1]!.labels[0].label).toBe('blue star');
      expect(answer.errors).toEqual([
        {
          message: `images[0]: The uploaded file is over the limit of ${MAX_IMAGE_BYTES} bytes (IMAGE_MAX_BYTES).`,
          path: ['classify', 0],
          extensions: { code: 'INPUT_TOO_LARGE' },
          locations: expect.any(Array),
        },
      ]);
      // Buffered whole, the file alone would be BIG_FILE_BYTES. What grows is the socket's read buffers
      // not yet collected, which V8 collects once they pass its external memory limit (some 32 MiB, measured 21 to 36).
      expect(growth.rss).toBeLessThan(BIG_FILE_BYTES / 4);
      expect(growth.arrayBuffers).toBeLessThan(BIG_FILE_BYTES / 4);
    });

    it('stops reading when the client goes away mid-file: no crash, nothing left in flight', async () => {
      const abort = new AbortController();
      let reached!: () => void;
      const stalled = new Promise<void>((resolve) => (reached = resolve));
      const request = postStream(stallingBody(MAX_IMAGE_BYTES / 2, reached), abort.signal).catch((error: Error) => error);
      await stalled;
      abort.abort();
      expect(await request).toMatchObject({ name: 'AbortError' });
      // The gateway lets the request go (its in-flight count back to nothing) and serves the next one.
      for (;;) {
        const ready = (await (await fetch(`${gw.origin}/readyz`)).json()) as { requestsInFlight: number };
        if (ready.requestsInFlight === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const next = await send<Classified>(
        CLASSIFY,
        { i: [{ file: null }], l: LABELS },
        { 0: { paths: ['variables.i.0.file'], bytes: STAR } },
      );
      expect(next.data!.classify[0]!.labels[0].label).toBe('blue star');
    });
  });

  describe('a malformed multipart request gets a 400 in GraphQL error shape naming the problem', () => {
    const form = (fields: [string, string | Blob][]) => {
      const body = new FormData();
      for (const [name, value] of fields) body.append(name, value);
      return body;
    };

    it('operations that are not JSON', async () => {
      const answer = await post(
        form([
          ['operations', '{ nope'],
          ['map', '{}'],
        ]),
      );
      expect(answer).toEqual({
        status: 400,
        errors: [
          { message: expect.stringMatching(/^Invalid JSON in the ‘operations’ multipart field/), extensions: { code: 'BAD_USER_INPUT' } },
        ],
      });
    });

    it('a map that is not an object, and no map at all', async () => {
      const ops = JSON.stringify({ query: CLASSIFY, variables: { i: [{ file: null }], l: LABELS } });
      const list = await post(
        form([
          ['operations', ops],
          ['map', '["variables.i.0.file"]'],
        ]),
      );
      expect([list.status, list.errors?.[0].message]).toEqual([400, expect.stringMatching(/^Invalid type for the ‘map’ multipart field/)]);
      const missing = await post(form([['operations', ops]]));
      expect([missing.status, missing.errors?.[0].message]).toEqual([400, expect.stringMatching(/^Missing multipart field ‘map’/)]);
    });

    it('a body that is not multipart at all, for its content type', async () => {
      const answer = await post('hello', { ...PREFLIGHT, 'content-type': 'multipart/form-data' });
      expect(answer).toEqual({
        status: 400,
        errors: [{ message: 'Multipart: Boundary not found', extensions: { code: 'BAD_USER_INPUT' } }],
      });
    });

    it('more files than one request may carry (413, INPUT_TOO_LARGE)', async () => {
      const files = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [String(i), { paths: [`variables.i.${i}.file`], bytes: STAR }]));
      const answer = await send(CLASSIFY, { i: Array.from({ length: 9 }, () => ({ file: null })), l: LABELS }, files);
      expect(answer.status).toBe(413);
      expect(answer.errors).toEqual([
        {
          message: expect.stringMatching(/^The request has more than 8 files, the most one request may carry/),
          extensions: { code: 'INPUT_TOO_LARGE' },
        },
      ]);
    });

    it('a map naming a file the request does not hold fails that input alone (it is known only once the body has ended)', async () => {
      const body = multipart(
        CLASSIFY,
        { i: [{ file: null }, { file: null }], l: LABELS },
        { 1: { paths: ['variables.i.1.file'], bytes: STAR } },
      );
      body.set('map', JSON.stringify({ 0: ['variables.i.0.file'], 1: ['variables.i.1.file'] }));
      const answer = await post<Classified>(body);
      expect(answer.status).toBe(200);
      expect(answer.data!.classify[1]!.labels[0].label).toBe('blue star');
      expect(answer.errors).toEqual([
        {
          message: "images[0]: The request's map names a file for this input that is not among the request's parts.",
          path: ['classify', 0],
          extensions: { code: 'BAD_USER_INPUT' },
          locations: expect.any(Array),
        },
      ]);
    });
  });
});
