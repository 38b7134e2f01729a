import { readFileSync } from 'node:fs';

import { printGatewaySchema, SCHEMA_FILE } from '../../../gateway/schema';

describe('schema/schema.graphql', () => {
  it('is what the code emits (run `npm run schema` after changing the schema)', async () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(await printGatewaySchema());
  });

  it('keeps the contract frontends rely on', async () => {
    const sdl = (await printGatewaySchema()).replace(/"""[\s\S]*?"""/g, '').replace(/\s+/g, ' ');
    expect(sdl).toContain('embed(inputs: [MediaInput!]!): [Embedding]!');
    expect(sdl).toContain('classify( images: [ImageInput!]! labels: [String!]! templates: [String!] topK: Int ): [Classification]!');
    expect(sdl).toContain('similarity( a: [MediaInput!]! b: [MediaInput!]! ): [[Float!]!]');
    expect(sdl).toContain('model: ModelInfo!');
    expect(sdl).toContain('input MediaInput { text: String imageUrl: String imageBase64: String imageFile: Upload }');
    expect(sdl).toContain('input ImageInput { url: String base64: String file: Upload }');
    // The scalar of the GraphQL multipart request spec, by the name its clients expect.
    expect(sdl).toContain('scalar Upload');
    expect(sdl).toContain('type Embedding { vector: [Float!]! dim: Int! model: String! }');
    expect(sdl).toContain('type LabelScore { label: String! score: Float! similarity: Float! }');
  });
});
