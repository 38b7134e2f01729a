import 'reflect-metadata';

import { graphql, printSchema, type GraphQLSchema } from 'graphql';
import { Arg, buildSchema, Query, Resolver } from 'type-graphql';

import { graphqlEnum } from '../../../gateway/schema/enum';

// Values as a lower layer defines them (lower case, as the store's and the backends' are).
const LEVELS = ['low', 'very_high'] as const;
type Level = (typeof LEVELS)[number];

const Level = graphqlEnum('Level', LEVELS, {
  description: 'How loud.',
  valuesConfig: {
    LOW: { description: 'Quiet.' },
    VERY_HIGH: { description: 'Loud.' },
  },
});

/** What the resolver was given, to show that it sees the lower layer's values, not the names. */
const received: Level[] = [];

@Resolver()
class LevelResolver {
  @Query(() => Level)
  echo(@Arg('level', () => Level) level: Level): Level {
    received.push(level);
    return level;
  }

  @Query(() => [Level])
  levels(): Level[] {
    return [...LEVELS];
  }
}

describe('graphqlEnum', () => {
  let schema: GraphQLSchema;

  beforeAll(async () => {
    schema = await buildSchema({ resolvers: [LevelResolver], validate: false });
  });

  it('names each value by its upper case, and returns the object type-graphql registers', () => {
    expect(Level).toEqual({ LOW: 'low', VERY_HIGH: 'very_high' });
  });

  it('emits the enum with its description and one per name, in the values order', () => {
    expect(printSchema(schema)).toContain(
      ['"""How loud."""', 'enum Level {', '  """Quiet."""', '  LOW', '', '  """Loud."""', '  VERY_HIGH', '}'].join('\n'),
    );
  });

  it('gives resolvers the values and clients the names', async () => {
    received.length = 0;
    const result = await graphql({ schema, source: '{ echo(level: VERY_HIGH) levels }' });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ echo: 'VERY_HIGH', levels: ['LOW', 'VERY_HIGH'] });
    expect(received).toEqual(['very_high']);
  });

  it('refuses a value without a description (tsc refuses it first)', () => {
    expect(() =>
      graphqlEnum('Unsaid', ['draft', 'sent'], {
        // @ts-expect-error SENT has no description
        valuesConfig: { DRAFT: { description: 'Not sent yet.' } },
      }),
    ).toThrow(new TypeError('Unsaid: valuesConfig has no description for SENT.'));
  });

  it('refuses a description of a name it does not have (tsc refuses it first)', () => {
    expect(() =>
      graphqlEnum('Extra', ['draft'], {
        valuesConfig: {
          DRAFT: { description: 'Not sent yet.' },
          // @ts-expect-error SENT is not one of its names
          SENT: { description: 'Sent.' },
        },
      }),
    ).toThrow(new TypeError('Extra: valuesConfig describes SENT, which is not one of its names (DRAFT).'));
  });

  it('refuses a value that does not make a GraphQL name, quoting it', () => {
    const described = { description: 'A value.' };
    expect(() => graphqlEnum('Where', ['in-process'], { valuesConfig: { 'IN-PROCESS': described } })).toThrow(
      new TypeError('Where: the value "in-process" does not make a GraphQL enum name (it would be "IN-PROCESS").'),
    );
    expect(() => graphqlEnum('Answer', ['true'], { valuesConfig: { TRUE: described } })).toThrow(
      new TypeError('Answer: the value "true" does not make a GraphQL enum name (it would be "TRUE").'),
    );
    expect(() => graphqlEnum('Digit', ['1st'], { valuesConfig: { '1ST': described } })).toThrow(/"1st" does not make a GraphQL enum name/);
  });

  it('refuses two values that make one name', () => {
    expect(() => graphqlEnum('Case', ['cold', 'COLD'], { valuesConfig: { COLD: { description: 'Either.' } } })).toThrow(
      new TypeError('Case: the values "cold" and "COLD" make the same name, COLD.'),
    );
  });
});
