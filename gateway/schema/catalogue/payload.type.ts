import { Field, ID, ObjectType } from 'type-graphql';

import type { FieldError } from '../../catalogue';
import { Product } from './product.type';

@ObjectType({ description: "A problem with one field of a mutation's input; the rest of the mutation went ahead." })
export class UserError {
  @Field(() => [String], { nullable: true, description: 'The path of the field, e.g. ["products", "3", "images", "0", "base64"].' })
  field!: string[] | null;

  @Field()
  message!: string;

  @Field({ description: 'One of the error codes (BAD_USER_INPUT, NOT_FOUND, IMAGE_DECODE_FAILED, ...).' })
  code!: string;

  static from(error: FieldError): UserError {
    return Object.assign(new UserError(), { field: error.field.length > 0 ? error.field : null, message: error.message, code: error.code });
  }
}

@ObjectType()
export class ProductsUpsertPayload {
  @Field(() => [Product], { nullable: 'items', description: 'In input order; null for a product that failed (see userErrors).' })
  products!: (Product | null)[];

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType()
export class ProductsDeletePayload {
  @Field(() => [ID], { description: 'The ids that existed and are now deleted.' })
  deletedIds!: string[];

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType()
export class ProductTagsSetPayload {
  @Field(() => Product, { nullable: true })
  product!: Product | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
