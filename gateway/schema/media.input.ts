import GraphQLUpload from 'graphql-upload/GraphQLUpload.js';
import { Field, InputType } from 'type-graphql';

import type { UploadValue } from '../intake';

const FILE =
  'A JPEG, PNG or WebP file sent in a GraphQL multipart request (the spec apollo-upload-client, urql and Relay follow); ' +
  'the request needs the header apollo-require-preflight: true.';

@InputType({
  description:
    'One text or one image. Set exactly one field. The image fields are ImageInput\'s url, base64 and file, prefixed with "image" ' +
    'because this input also takes text.',
})
export class MediaInput {
  @Field(() => String, { nullable: true, description: 'A text, truncated to the model context (77 tokens for OpenAI CLIP).' })
  text?: string | null;

  @Field(() => String, { nullable: true, description: 'An http(s) URL of a JPEG, PNG or WebP image, fetched by the gateway.' })
  imageUrl?: string | null;

  @Field(() => String, { nullable: true, description: 'A JPEG, PNG or WebP image as base64 or as a data: URI.' })
  imageBase64?: string | null;

  @Field(() => GraphQLUpload, { nullable: true, description: FILE })
  imageFile?: UploadValue | null;
}

@InputType({ description: 'One image. Set exactly one field.' })
export class ImageInput {
  @Field(() => String, { nullable: true, description: 'An http(s) URL of a JPEG, PNG or WebP image, fetched by the gateway.' })
  url?: string | null;

  @Field(() => String, { nullable: true, description: 'A JPEG, PNG or WebP image as base64 or as a data: URI.' })
  base64?: string | null;

  @Field(() => GraphQLUpload, { nullable: true, description: FILE })
  file?: UploadValue | null;
}
