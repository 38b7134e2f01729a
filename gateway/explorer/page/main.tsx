// The gateway's offline schema explorer: GraphiQL, bundled by scripts/build-pages.js into
// dist/explorer/ and served at /graphiql. Every file it loads comes from the gateway itself.
import './workers';

import { GraphiQL } from 'graphiql';
import type { ComponentProps } from 'react';
import { createRoot } from 'react-dom/client';

import 'graphiql/style.css';
import './page.css';

/** The gateway that serves this page answers GraphQL here. */
const ENDPOINT = '/graphql';

type Fetcher = ComponentProps<typeof GraphiQL>['fetcher'];

/** POSTs the operation as JSON (what the gateway's CSRF prevention asks for) with the headers from the headers tab. */
const fetcher: Fetcher = async (params, options) => {
  const response = await fetch(ENDPOINT, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...options?.headers },
    body: JSON.stringify(params),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `HTTP ${response.status} ${response.statusText}: ${text.slice(0, 500)}` }] };
  }
};

const DEFAULT_QUERY = `# The CLIP gateway's GraphQL API. The book icon (left) opens the docs;
# Ctrl-Enter or the play button runs the query.

{
  model {
    name
    dim
  }
}
`;

createRoot(document.getElementById('root')!).render(<GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} />);
