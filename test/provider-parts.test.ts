// The provider's pure parts: prompt conversion, tool-call parsing, output segmentation, options schema.
import { InvalidArgumentError, UnsupportedFunctionalityError, type LanguageModelV3Prompt } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { convertPrompt, rawPromptText } from '../provider/convert-prompt.js';
import { OutputSegmenter, type Segment } from '../provider/output-segments.js';
import { parsePresskvOptions } from '../provider/provider-options.js';
import { parseBareToolCall, parseToolCallBody } from '../provider/tool-calls.js';

describe('convertPrompt', () => {
  it('maps system/user/assistant/tool messages the way HF templates expect', () => {
    const prompt: LanguageModelV3Prompt = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }, { type: 'file', mediaType: 'text/plain', data: new TextEncoder().encode('notes'), filename: 'n.txt' }] },
      {
        role: 'assistant',
        content: [
          { type: 'reasoning', text: 'Need the tool.' },
          { type: 'tool-call', toolCallId: 'c1', toolName: 'weather', input: { city: 'Paris' } },
        ],
      },
      { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'c1', toolName: 'weather', output: { type: 'json', value: { temp: 21 } } }] },
      { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'c2', toolName: 'x', output: { type: 'execution-denied', reason: 'no' } }] },
    ];
    const { messages, warnings } = convertPrompt(prompt);
    expect(warnings).toEqual([]);
    expect(messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Paris?\nn.txt:\nnotes' },
      {
        role: 'assistant',
        content: '',
        reasoning_content: 'Need the tool.',
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: { city: 'Paris' } } }],
      },
      { role: 'tool', content: '{"temp":21}', tool_call_id: 'c1', name: 'weather' },
      { role: 'tool', content: 'Tool execution denied: no', tool_call_id: 'c2', name: 'x' },
    ]);
    expect(rawPromptText(messages)).toBe('Be brief.\nWeather in Paris?\nn.txt:\nnotes\n{"temp":21}\nTool execution denied: no');
  });

  it('refuses images: the models read text only', () => {
    const prompt: LanguageModelV3Prompt = [{ role: 'user', content: [{ type: 'file', mediaType: 'image/png', data: 'AAAA' }] }];
    expect(() => convertPrompt(prompt)).toThrow(UnsupportedFunctionalityError);
  });
});

describe('tool calls', () => {
  it('parses a call body into a name and a JSON-string input', () => {
    expect(parseToolCallBody('{"name": "add", "arguments": {"a": 1, "b": 2}}')).toEqual({ toolName: 'add', input: '{"a":1,"b":2}' });
    expect(parseToolCallBody('{"name": "add", "parameters": {"a": 1}}')).toEqual({ toolName: 'add', input: '{"a":1}' });
    expect(parseToolCallBody('{"name": 3}')).toBeNull();
    expect(parseToolCallBody('not json')).toBeNull();
    expect(parseBareToolCall(' {"name": "add", "parameters": {}} ', new Set(['add']))).toEqual({ toolName: 'add', input: '{}' });
    expect(parseBareToolCall('{"name": "other", "parameters": {}}', new Set(['add']))).toBeNull();
  });
});

describe('OutputSegmenter', () => {
  const run = (chunks: string[], options: ConstructorParameters<typeof OutputSegmenter>[0]) => {
    const s = new OutputSegmenter(options);
    const out: Segment[] = [];
    for (const c of chunks) out.push(...s.push(c));
    out.push(...s.end());
    // Merge neighbours of one kind: chunking must not change the result.
    const merged: Segment[] = [];
    for (const seg of out) {
      const last = merged[merged.length - 1];
      if (last && last.kind === seg.kind && seg.kind !== 'tool-call' && last.kind !== 'tool-call') last.text += seg.text;
      else merged.push({ ...seg });
    }
    return merged;
  };
  const text = '<think>\nplan it\n</think>\n\nHello <b> world<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>';
  const expected: Segment[] = [
    { kind: 'reasoning', text: 'plan it\n' },
    { kind: 'text', text: 'Hello <b> world' },
    { kind: 'tool-call', body: '\n{"name": "f", "arguments": {}}\n' },
  ];

  it('splits reasoning, text and tool calls whatever the chunking', () => {
    expect(run([text], { thinking: true, toolCalls: true })).toEqual(expected);
    expect(run([...text], { thinking: true, toolCalls: true })).toEqual(expected);
    for (let cut = 1; cut < text.length; cut += 3) {
      expect(run([text.slice(0, cut), text.slice(cut)], { thinking: true, toolCalls: true })).toEqual(expected);
    }
  });

  it('never lets part of a tag reach a text delta, and gives back held text at the end', () => {
    const s = new OutputSegmenter({ thinking: false, toolCalls: true });
    expect(s.push('abc<tool_')).toEqual([{ kind: 'text', text: 'abc' }]);
    expect(s.push('x')).toEqual([{ kind: 'text', text: '<tool_x' }]);
    expect(s.push('<')).toEqual([]);
    expect(s.end()).toEqual([{ kind: 'text', text: '<' }]);
    expect(run(['<think>x</think>'], { thinking: false, toolCalls: false })).toEqual([{ kind: 'text', text: '<think>x</think>' }]);
    expect(run(['<tool_call>{"unterminated'], { thinking: false, toolCalls: true })).toEqual([{ kind: 'text', text: '<tool_call>{"unterminated' }]);
    expect(run(['still thinking</think>answer'], { thinking: true, startInReasoning: true, toolCalls: false })).toEqual([
      { kind: 'reasoning', text: 'still thinking' },
      { kind: 'text', text: 'answer' },
    ]);
  });
});

describe('provider options', () => {
  it('accepts known options and rejects unknown keys and bad values', () => {
    const parse = (presskv: unknown) => parsePresskvOptions({ presskv, other: { ignored: true } });
    expect(parse({ minP: 0.1, enableThinking: false })).toEqual({ minP: 0.1, enableThinking: false });
    expect(parsePresskvOptions(undefined)).toEqual({});
    expect(() => parse({ minp: 0.1 })).toThrow(InvalidArgumentError);
    expect(() => parse({ minp: 0.1 })).toThrow(/Unrecognized key.*"minp".*known options: minP/);
    expect(() => parse({ minP: 2 })).toThrow(/minP/);
    expect(() => parse({ raw: 'yes' })).toThrow(/raw/);
  });
});
