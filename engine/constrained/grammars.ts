// The grammars presskv constrains generation with: JSON for a schema (or any JSON object/array), and
// a tool call in the Qwen/Hermes form `<tool_call>\n{"name": "<tool>", "arguments": {...}}\n</tool_call>`
// or the Llama 3.1 form `{"name": "<tool>", "parameters": {...}}`.
import { InvalidArgumentError } from '../errors.js';
import { expectLiteral, expectValue } from './json-automaton.js';
import type { Grammar } from './grammar-matcher.js';
import { anyJsonContainerNode, compileJsonSchema } from './schema-node.js';

const utf8 = new TextEncoder();

/** JSON matching `schema`; without a schema, any JSON object or array. */
export function jsonGrammar(schema?: unknown): Grammar {
  const node = schema === undefined ? anyJsonContainerNode() : compileJsonSchema(schema);
  return { start: [expectValue(node)] };
}

export interface ToolForGrammar {
  name: string;
  /** JSON schema of the arguments. */
  inputSchema: unknown;
}

export interface ToolCallFormat {
  /** Text before the JSON object (default "<tool_call>\n"). */
  open: string;
  /** Text after it (default "\n</tool_call>"). */
  close: string;
  /** Key of the arguments object: "arguments" (Qwen/Hermes) or "parameters" (Llama 3.1). */
  argumentsKey: string;
}

export const HERMES_TOOL_CALL_FORMAT: ToolCallFormat = { open: '<tool_call>\n', close: '\n</tool_call>', argumentsKey: 'arguments' };
export const LLAMA3_TOOL_CALL_FORMAT: ToolCallFormat = { open: '', close: '', argumentsKey: 'parameters' };

/** Exactly one call of one of `tools`, its arguments valid for that tool's schema. */
export function toolCallGrammar(tools: ToolForGrammar[], format: ToolCallFormat = HERMES_TOOL_CALL_FORMAT): Grammar {
  if (tools.length === 0) throw new InvalidArgumentError('A tool call grammar needs at least one tool');
  const start = tools.map((tool) => {
    const args = compileJsonSchema(tool.inputSchema ?? { type: 'object' });
    const tail = expectLiteral(utf8.encode(`}${format.close}`));
    const body = expectValue(args, tail);
    return expectLiteral(utf8.encode(`${format.open}{"name": ${JSON.stringify(tool.name)}, ${JSON.stringify(format.argumentsKey)}: `), body);
  });
  return { start };
}
