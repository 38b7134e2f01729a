// GraphQL subscriptions beside Apollo's HTTP: over WebSocket (graphql-ws) on the GraphQL route and
// over Server-Sent Events (graphql-sse) on its /stream, each operation checked as HTTP's are and
// every client's open subscriptions bounded over both (operations.ts).
export { SubscriptionBudget } from './operations';
export { eventStreams, type EventStreams, type Refuse } from './server-sent-events';
export { serveWebSocketSubscriptions, type SubscriptionServer } from './websocket';
