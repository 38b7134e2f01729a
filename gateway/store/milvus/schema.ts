import { modelKey, StoreError, type VectorModel } from '../port';
import { MAX_ARRAY_CAPACITY, MAX_VARCHAR_BYTES } from './entities';
import { FIELDS } from './filter';

/** A model's collection: the schema it is made with, and the check that one found there has it. */

/** What describe collection answers, as far as the check reads it. */
export interface DescribedCollection {
  fields?: { name?: string; type?: string; primaryKey?: boolean; params?: { key: string; value: unknown }[] }[];
  indexes?: { fieldName?: string; metricType?: string }[];
}

/** The create collection request for `model`'s collection `name`. */
export function collectionRequest(model: VectorModel, name: string): object {
  return {
    collectionName: name,
    // The REST API takes a description though the SDK's type omits it: says which model, for people.
    ...({ description: `clip-gateway product vectors of ${modelKey(model)} (dim ${model.dim})` } as object),
    schema: {
      autoID: false,
      enabledDynamicField: false,
      fields: [
        { fieldName: FIELDS.id, dataType: 'VarChar', isPrimary: true, elementTypeParams: { max_length: MAX_VARCHAR_BYTES } },
        { fieldName: FIELDS.vector, dataType: 'FloatVector', elementTypeParams: { dim: model.dim } },
        {
          fieldName: FIELDS.tags,
          dataType: 'Array',
          elementDataType: 'VarChar',
          elementTypeParams: { max_capacity: MAX_ARRAY_CAPACITY, max_length: MAX_VARCHAR_BYTES },
        },
        { fieldName: FIELDS.attributes, dataType: 'JSON' },
      ],
    },
    indexParams: [{ fieldName: FIELDS.vector, indexName: FIELDS.vector, metricType: 'COSINE', params: { index_type: 'AUTOINDEX' } }],
  };
}

/** Throws unless the collection found has the schema collectionRequest makes, with the model's dim. */
export function checkSchema(described: DescribedCollection, model: VectorModel, name: string): void {
  const field = (n: string) => described.fields?.find((f) => f.name === n);
  const id = field(FIELDS.id);
  const vector = field(FIELDS.vector);
  const problems: string[] = [];
  if (id?.type !== 'VarChar' || id.primaryKey !== true) problems.push(`${FIELDS.id} is not a VarChar primary key`);
  if (vector?.type !== 'FloatVector') problems.push(`${FIELDS.vector} is not a FloatVector`);
  if (field(FIELDS.tags)?.type !== 'Array') problems.push(`${FIELDS.tags} is not an Array`);
  if (field(FIELDS.attributes)?.type !== 'JSON') problems.push(`${FIELDS.attributes} is not JSON`);
  const metric = described.indexes?.find((i) => i.fieldName === FIELDS.vector)?.metricType;
  if (metric !== undefined && metric !== 'COSINE') problems.push(`its vector index uses ${metric}, not COSINE`);
  if (problems.length > 0)
    throw new Error(`Milvus collection ${name} (model ${modelKey(model)}) has another schema: ${problems.join('; ')}`);
  const dim = Number(vector!.params?.find((p) => p.key === 'dim')?.value);
  if (dim !== model.dim)
    throw new StoreError(
      'DIMENSION_MISMATCH',
      `Milvus collection ${name} holds vectors of ${modelKey(model)} with dim ${dim}, not ${model.dim}: the same model name and dtype with another dim`,
    );
}
