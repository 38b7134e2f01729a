// graphql-upload 15 ships JavaScript with JSDoc types and no declarations: these are the parts the
// gateway uses, typed as its processRequest.js and GraphQLUpload.js document them.

declare module 'graphql-upload/GraphQLUpload.js' {
  import type { GraphQLScalarType } from 'graphql';

  /** The `Upload` scalar: its value in a resolver is the promise of the file (a FileUpload). */
  const GraphQLUpload: GraphQLScalarType;
  export = GraphQLUpload;
}

declare module 'graphql-upload/processRequest.js' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { Readable } from 'node:stream';

  namespace processRequest {
    /** A file of the request, once its part has begun to arrive. */
    interface FileUpload {
      filename: string;
      /** As the client says; not to be trusted. */
      mimetype: string;
      encoding: string;
      /** A new stream of the file's bytes, from the start, as they arrive; throws once the file was refused or released. */
      createReadStream(options?: { highWaterMark?: number }): Readable;
    }

    interface ProcessRequestOptions {
      /** Largest `operations` or `map` field, in bytes. Default 1000000. */
      maxFieldSize?: number;
      /** Largest file, in bytes: busboy truncates a file when it reaches this many, and the file's stream then fails with a 413. Default Infinity. */
      maxFileSize?: number;
      /** Most files in one request. Default Infinity. */
      maxFiles?: number;
    }
  }

  /**
   * Reads a GraphQL multipart request: resolves with its operations (each file replaced by an Upload)
   * once `operations` and `map` are read, before the files arrive; rejects with an http-errors error
   * (`status`, `expose`, a message naming the problem) for a malformed request.
   */
  function processRequest(
    request: IncomingMessage,
    response: ServerResponse,
    options?: processRequest.ProcessRequestOptions,
  ): Promise<Record<string, unknown> | Record<string, unknown>[]>;
  export = processRequest;
}

declare module 'graphql-upload/Upload.js' {
  import type { FileUpload } from 'graphql-upload/processRequest.js';

  /** A file expected by a multipart request, where its map puts it in the operation's variables. */
  class Upload {
    /** Settles once the file's part begins to arrive; the Upload scalar's value. */
    promise: Promise<FileUpload>;
    resolve(file: FileUpload): void;
    reject(error: Error): void;
    file?: FileUpload;
  }
  export = Upload;
}
