// The soak's pictures: a few photo-sized JPEGs made once (variants are copies), and a server for
// the URL products' images that answers each fetch with other bytes, so that every reembed job has
// real inference to do (an unchanged image is not embedded again), with no validators (no 304).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { makeJpegs } from '../lib';
import { held } from './processes';
import { progress } from './progress';
import { jpegVariant } from './workload';

export async function serveImages(): Promise<{ jpegs: Buffer[]; imageOrigin: string }> {
  progress('making images');
  const jpegs = await makeJpegs(48, 7);
  let served = 0;
  const imageServer = createServer((req, res) => {
    const k = Number(/\/img\/(\d+)\.jpg$/.exec(req.url ?? '')?.[1] ?? Number.NaN);
    if (!Number.isInteger(k)) {
      res.writeHead(404).end();
      return;
    }
    const body = jpegVariant(jpegs[k % jpegs.length], `url ${k} fetch ${served++}`);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body);
  });
  held.imageServer = imageServer;
  await new Promise<void>((resolve) => imageServer.listen(0, '127.0.0.1', resolve));
  return { jpegs, imageOrigin: `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}` };
}
