// GraphQL multipart requests (https://github.com/jaydenseric/graphql-multipart-request-spec), the
// way apollo-upload-client, urql and Relay send files, read by graphql-upload. This file imports
// nothing of the gateway's but the mend of graphql-upload's spool (upload-spool.ts): host.ts hands
// it the settings and the way it answers errors.
import type { Request, RequestHandler, Response } from 'express';
import processRequest from 'graphql-upload/processRequest.js';

import './upload-spool';

/** The settings uploads are bounded by (GatewayConfig has them all). */
export interface UploadSettings {
  /** IMAGE_MAX_BYTES: the largest file. */
  imageLimits: { maxBytes: number };
  /** BODY_LIMIT_BYTES: the largest `operations` (and `map`) field, as for a JSON body. */
  bodyLimitBytes: number;
  /** MAX_INPUTS_PER_REQUEST: items of one list argument. */
  maxInputsPerRequest: number;
  /**
   * CATALOGUE_MAX_PRODUCTS and CATALOGUE_MAX_IMAGES_PER_PRODUCT: the images of one upsert;
   * CATALOGUE_MAX_IMPORT_BYTES: the file of a productsImport.
   */
  catalogue: { maxProducts: number; maxImagesPerProduct: number; maxImportBytes: number };
}

/** The codes a refused multipart request is answered with. */
export type UploadRefusalCode = 'INPUT_TOO_LARGE' | 'BAD_USER_INPUT';

/** How the host answers a request it refuses: an error in GraphQL's response shape. */
export type Refuse = (res: Response, status: number, code: UploadRefusalCode, message: string) => void;

/**
 * The most files one request may carry: as many images as the largest image arguments of one
 * operation hold, a similarity's two lists (a and b, each MAX_INPUTS_PER_REQUEST) or an upsert's
 * products times their images. Each file is a temporary file on disk while the request runs, so
 * more than any argument can take would only hold the disk and file descriptors.
 */
export function maxFilesOf(settings: UploadSettings): number {
  return Math.max(2 * settings.maxInputsPerRequest, settings.catalogue.maxProducts * settings.catalogue.maxImagesPerProduct);
}

/**
 * Reads a multipart request into the operation Apollo runs, each file an Upload the `Upload`
 * scalar turns into the promise of its file; other requests pass untouched. Files go to temporary
 * files as they arrive (fs-capacitor), never to memory, and are deleted once the response is sent.
 * A malformed request (its operations or map unreadable, a field or the file count over its limit)
 * is refused with 400 or 413 in GraphQL's error shape, naming what is wrong.
 *
 * The response waits for the request's end, as graphql-upload's own Express middleware does: a
 * browser that gets an answer while it is still sending the file takes the connection for broken.
 */
export function multipartUploads(settings: UploadSettings, refuse: Refuse, mayImport: (req: Request) => boolean): RequestHandler {
  const maxFiles = maxFilesOf(settings);
  const options = {
    maxFieldSize: settings.bodyLimitBytes,
    // busboy truncates a file once it *reaches* fileSize, so a file of exactly IMAGE_MAX_BYTES needs one more.
    // Past it, the file's stream fails with a 413, which the intake refuses like its own count (INPUT_TOO_LARGE).
    maxFileSize: settings.imageLimits.maxBytes + 1,
    maxFiles,
  };
  // Only the clients allowed to import (admin keys) may send a file as large as an export: anyone
  // else's files stop at the image limit, on disk as in memory. Their images are still held to
  // IMAGE_MAX_BYTES by the intake's own count.
  const importing = { ...options, maxFileSize: Math.max(settings.imageLimits.maxBytes, settings.catalogue.maxImportBytes) + 1 };
  return (req, res, next) => {
    if (!req.is('multipart/form-data')) return next();
    const ended = new Promise<void>((resolve) => req.once('end', resolve));
    const send = res.send.bind(res);
    res.send = ((body?: unknown) => {
      void ended.then(() => send(body));
      return res;
    }) as Response['send'];
    processRequest(req, res, mayImport(req) ? importing : options).then(
      (operations) => {
        req.body = operations;
        next();
      },
      (error: { status?: number; message?: string }) => {
        // 499: the client has gone; there is nobody to answer.
        if (error.status === 499) return;
        // The answer waits for the body's end, which comes only if the body is read (busboy may have refused it unread).
        req.resume();
        const status = error.status === 413 ? 413 : 400;
        refuse(res, status, status === 413 ? 'INPUT_TOO_LARGE' : 'BAD_USER_INPUT', messageOf(error, maxFiles));
      },
    );
  };
}

/** graphql-upload's sentence, said with the limit's variable where one applies. */
function messageOf(error: { status?: number; message?: string }, maxFiles: number): string {
  const message = error.message ?? 'The multipart request could not be read.';
  if (/max file uploads exceeded/.test(message))
    return `The request has more than ${maxFiles} files, the most one request may carry (MAX_INPUTS_PER_REQUEST × 2, or CATALOGUE_MAX_PRODUCTS × CATALOGUE_MAX_IMAGES_PER_PRODUCT when larger).`;
  if (/multipart field value exceeds/.test(message)) return message.replace(/\.$/, ' (BODY_LIMIT_BYTES).');
  return message;
}
