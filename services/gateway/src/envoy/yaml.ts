import { LineCounter, parseDocument, type Document } from 'yaml';

// Envoy turns YAML into JSON with yaml-cpp, and envoyproxy/ratelimit reads its config with
// gopkg.in/yaml.v2: YAML 1.1 booleans (yes/no/on/off), no `<<` merge keys, and dates or
// sexagesimal numbers stay strings. The validator and the gateway's plan both read the
// files this way, so neither sees a value the other (or Envoy) reads differently.
const YAML_DROPPED_TAGS = ['tag:yaml.org,2002:timestamp', 'tag:yaml.org,2002:merge'];

/** Parses YAML text as Envoy and the rate limit service read it. */
export function parseEnvoyYamlDocument(text: string, lineCounter?: LineCounter): Document {
  return parseDocument(text, {
    version: '1.1',
    merge: false,
    lineCounter,
    customTags: (tags) => tags.filter((t) => typeof t === 'string' || !(YAML_DROPPED_TAGS.includes(t.tag) || ('format' in t && t.format === 'TIME'))),
  });
}

/** The value of YAML text read as Envoy reads it; throws on a YAML error, naming `what`. */
export function parseEnvoyYaml(text: string, what: string): unknown {
  const doc = parseEnvoyYamlDocument(text);
  if (doc.errors.length > 0) throw new Error(`${what}: ${doc.errors[0].message.split('\n')[0]}`);
  return doc.toJS({ maxAliasCount: 1000 }) as unknown;
}
