import { Field, Float, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A CLIP embedding: texts and images share this space.' })
export class Embedding {
  @Field(() => [Float], { description: 'The vector, L2-normalised: the dot product of two is their cosine similarity.' })
  vector!: number[];

  @Field(() => Int, { description: 'Length of the vector.' })
  dim!: number;

  @Field({ description: 'The model that made it; vectors of different models are not comparable.' })
  model!: string;

  static of(vector: Float32Array, model: string): Embedding {
    return Object.assign(new Embedding(), { vector: Array.from(vector), dim: vector.length, model });
  }
}
