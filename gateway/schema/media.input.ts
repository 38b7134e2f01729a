import { Field, InputType } from 'type-graphql';

@InputType({
  description:
    'One text or one image. Set exactly one field. The image fields are ImageInput\'s url and base64, prefixed with "image" ' +
    'because this input also takes text.',
})
export class MediaInput {
  @Field(() => String, { nullable: true, description: 'A text, truncated to the model context (77 tokens for OpenAI CLIP).' })
  text?: string | null;

  @Field(() => String, { nullable: true, description: 'An http(s) URL of a JPEG, PNG or WebP image, fetched by the gateway.' })
  imageUrl?: string | null;

  @Field(() => String, { nullable: true, description: 'A JPEG, PNG or WebP image as base64 or as a data: URI.' })
  imageBase64?: string | null;
}

@InputType({ description: 'One image. Set exactly one field.' })
export class ImageInput {
  @Field(() => String, { nullable: true, description: 'An http(s) URL of a JPEG, PNG or WebP image, fetched by the gateway.' })
  url?: string | null;

  @Field(() => String, { nullable: true, description: 'A JPEG, PNG or WebP image as base64 or as a data: URI.' })
  base64?: string | null;
}
