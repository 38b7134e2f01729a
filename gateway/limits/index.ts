// Protection for the gateway and its model: what a request may ask (query limits), how often a
// client may ask (rate limits), which operations run at all (persisted queries), how much work is
// let in at once (admission) and for how long (a request's deadline, from the gateway's own and the
// client's header). All of it is decided before inference starts.
export { Admission, DEFAULT_ADMISSION_LIMITS, DEFAULT_INPUT_COST, type AdmissionLimits, type Demand, type InputCost } from './admission';
export { COST, operationDemand, type OperationDemand } from './demand';
export {
  apolloPersistedQueries,
  DEFAULT_PERSISTED_QUERIES,
  notInSafelist,
  PERSISTED_QUERY_MODES,
  persistedQueriesFromEnv,
  PersistedQueryList,
  type PersistedQueriesConfig,
  type PersistedQueryMode,
} from './persisted-queries';
export { guardPlugin } from './plugin';
export { DEFAULT_QUERY_LIMITS, queryLimitRules, tokenLimitError, type QueryLimits } from './query-limits';
export { DEFAULT_RATE_LIMITS, RateLimiter, type RateLimits } from './rate-limit';
export { deadlineExceeded, requestDeadline, requestTimeoutMs, TIMEOUT_HEADER } from './timeout-header';
