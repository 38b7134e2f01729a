/** CLIP's zero-shot prompt, as `classify` uses by default: the templates of a facet that gives none. */
export const DEFAULT_FACET_TEMPLATES: readonly string[] = Object.freeze(['a photo of a {}.']);
