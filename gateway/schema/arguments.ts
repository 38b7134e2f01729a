// Arguments as clients write them, checked and turned into what the loaders take.
import { ErrorCode, GatewayError } from '../common/errors';
import type { Embedded } from '../embedding/service';
import type { UploadValue } from '../intake';
import type { MediaKey, MediaLoader } from '../loaders/media-loader';
import type { ImageInput, MediaInput } from './media.input';

/** The variables that set the request limits (RequestLimits), named in their refusals. */
export type ListLimitVariable = 'MAX_INPUTS_PER_REQUEST' | 'MAX_LABELS' | 'MAX_TEMPLATES';

/** Refuses oversized list arguments before any work starts, naming the limit's variable. */
export function checkListSize(name: string, length: number, limit: number, variable: ListLimitVariable): void {
  if (length > limit) {
    throw new GatewayError(ErrorCode.INPUT_TOO_LARGE, `${name} has ${length} items; the limit is ${limit} per request (${variable}).`);
  }
}

/** An input's loader key, or why it has none (it sets no field, or more than one): a failure of that input alone. */
export type Keyed = { ok: true; key: MediaKey } | { ok: false; error: GatewayError };

export function mediaKey(input: MediaInput): Keyed {
  return keyOf(
    { text: input.text, url: input.imageUrl, base64: input.imageBase64, file: input.imageFile },
    { text: 'text', url: 'imageUrl', base64: 'imageBase64', file: 'imageFile' },
  );
}

export function imageKey(input: ImageInput): Keyed {
  return keyOf({ url: input.url, base64: input.base64, file: input.file }, { url: 'url', base64: 'base64', file: 'file' });
}

/** The embedding of one input of an argument, its failure a value like the loader's own. */
export function embedInput(media: MediaLoader, keyed: Keyed): Promise<Embedded> {
  return keyed.ok ? media.load(keyed.key) : Promise.resolve(keyed);
}

/** An input's fields, by what they hold. */
interface Fields {
  text?: string | null;
  url?: string | null;
  base64?: string | null;
  file?: UploadValue | null;
}

/** The loader key of an input that must set exactly one of its fields; `names` are the fields as the client writes them, in order. */
function keyOf(fields: Fields, names: { [K in keyof Fields]?: string }): Keyed {
  const given = Object.keys(names) as (keyof Fields)[];
  const set = given.filter((k) => fields[k] !== undefined && fields[k] !== null);
  if (set.length !== 1) {
    const error = new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      `Set exactly one of ${given.map((k) => names[k]).join(', ')}; ${set.length === 0 ? 'none is set' : `${set.map((k) => names[k]).join(' and ')} are set`}.`,
    );
    return { ok: false, error };
  }
  if (fields.text !== undefined && fields.text !== null) return { ok: true, key: { kind: 'text', text: fields.text } };
  if (fields.url !== undefined && fields.url !== null) return { ok: true, key: { kind: 'url', url: fields.url } };
  if (fields.file !== undefined && fields.file !== null) return { ok: true, key: { kind: 'upload', upload: fields.file } };
  return { ok: true, key: { kind: 'base64', data: fields.base64! } };
}
