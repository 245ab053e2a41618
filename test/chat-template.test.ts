import { describe, expect, it } from 'vitest';
import { renderChatTemplate, templateSupportsThinking, templateSupportsTools, type ChatMessage, type ChatTool } from '../engine/chat-template.js';
import { InvalidArgumentError } from '../engine/errors.js';

// A Qwen3-style template: tools in the system turn, <tool_call> blocks, tool responses folded into a
// user turn, reasoning kept only after the last user query, and the enable_thinking switch.
const QWEN3_STYLE = `{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\\n\\n' }}
    {%- endif %}
    {{- "# Tools\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object within <tool_call></tool_call> XML tags.<|im_end|>\\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- elif '</think>' in content %}
            {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
            {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index and (loop.last or reasoning_content) %}
            {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}`;

// A Llama-3-style template (written for this test): BOS, header ids, tools as JSON in the system turn,
// raise_exception for roles it does not know.
const LLAMA3_STYLE = `{{- bos_token }}
{%- if messages[0].role == 'system' %}
    {%- set system_message = messages[0].content | trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none and tools is defined %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and tools is defined %}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if message.role not in ['user', 'assistant', 'tool', 'ipython'] %}
        {{- raise_exception('Unknown role: ' + message.role) }}
    {%- endif %}
    {%- if message.tool_calls %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
        {{- '{"name": "' + tool_call.name + '", "parameters": ' + (tool_call.arguments | tojson) + '}' }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" + message.content + "<|eot_id|>" }}
    {%- else %}
        {{- '<|start_header_id|>' + message.role + '<|end_header_id|>\\n\\n' + message.content | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}`;

const WEATHER_TOOL: ChatTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('renderChatTemplate with a Qwen3-style template', () => {
  it('renders a plain conversation with the generation prompt', () => {
    const text = renderChatTemplate(QWEN3_STYLE, {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
      addGenerationPrompt: true,
    });
    expect(text).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    const noPrompt = renderChatTemplate(QWEN3_STYLE, { messages: [{ role: 'user', content: 'Hi' }], addGenerationPrompt: false });
    expect(noPrompt).toBe('<|im_start|>user\nHi<|im_end|>\n');
  });

  it('enable_thinking=false adds the empty think block; true and undefined do not', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
    const off = renderChatTemplate(QWEN3_STYLE, { messages, addGenerationPrompt: true, enableThinking: false });
    expect(off).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
    const on = renderChatTemplate(QWEN3_STYLE, { messages, addGenerationPrompt: true, enableThinking: true });
    const unset = renderChatTemplate(QWEN3_STYLE, { messages, addGenerationPrompt: true });
    expect(on).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(unset).toBe(on);
  });

  it('renders tools with tojson (Python separators), a tool call and its response', () => {
    const text = renderChatTemplate(QWEN3_STYLE, {
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: '',
          tool_calls: [{ type: 'function', id: 'c1', function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
        },
        { role: 'tool', content: '{"temp": 21}', tool_call_id: 'c1', name: 'get_weather' },
      ],
      tools: [WEATHER_TOOL],
      addGenerationPrompt: true,
    });
    const toolJson =
      '{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": ' +
      '{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}';
    expect(text).toBe(
      '<|im_start|>system\n# Tools\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
        toolJson +
        '\n</tools>\n\nFor each function call, return a json object within <tool_call></tool_call> XML tags.<|im_end|>\n' +
        '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n' +
        '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
  });

  it('keeps reasoning only for assistant turns after the last user query', () => {
    const text = renderChatTemplate(QWEN3_STYLE, {
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: '<think>\nold thoughts\n</think>\n\nold answer' },
        { role: 'user', content: 'b' },
      ],
      addGenerationPrompt: false,
    });
    expect(text).toBe('<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nold answer<|im_end|>\n<|im_start|>user\nb<|im_end|>\n');
  });

  it('detects tool and thinking support', () => {
    expect(templateSupportsTools(QWEN3_STYLE)).toBe(true);
    expect(templateSupportsThinking(QWEN3_STYLE)).toBe(true);
    expect(templateSupportsTools(LLAMA3_STYLE)).toBe(true);
    expect(templateSupportsThinking(LLAMA3_STYLE)).toBe(false);
    // Text that merely mentions tools is not tool support; neither is an attribute named tools.
    const mentions = '{{ "we have no tools" }}{% for m in messages %}{{ m.tools }}{{ m.content }}{% endfor %}';
    expect(templateSupportsTools(mentions)).toBe(false);
    expect(templateSupportsTools(undefined)).toBe(false);
    expect(templateSupportsThinking('{{ messages[0].content }}')).toBe(false);
  });
});

describe('renderChatTemplate with a Llama-3-style template', () => {
  it('renders BOS, extra variables and the generation prompt', () => {
    const text = renderChatTemplate(LLAMA3_STYLE, {
      messages: [
        { role: 'system', content: ' You are helpful. ' },
        { role: 'user', content: 'Hello' },
      ],
      addGenerationPrompt: true,
      bosToken: '<|begin_of_text|>',
      extra: { date_string: '26 Jul 2024' },
    });
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nToday Date: 26 Jul 2024\n\nYou are helpful.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('renders tools with tojson(indent=4) and a tool call', () => {
    const text = renderChatTemplate(LLAMA3_STYLE, {
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Oslo' } } }] },
        { role: 'tool', content: 'cold' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      addGenerationPrompt: false,
      extra: { date_string: 'today' },
    });
    expect(text).toContain('Environment: ipython\n');
    expect(text).toContain('{\n    "type": "function",\n    "function": {\n        "name": "f",');
    expect(text).toContain('{"name": "get_weather", "parameters": {"city": "Oslo"}}<|eot_id|>');
    expect(text.endsWith('<|start_header_id|>ipython<|end_header_id|>\n\ncold<|eot_id|>')).toBe(true);
    // Without tools the ipython environment line is absent.
    const plain = renderChatTemplate(LLAMA3_STYLE, { messages: [{ role: 'user', content: 'x' }], addGenerationPrompt: false, extra: { date_string: 'd' } });
    expect(plain).not.toContain('Environment');
  });

  it('a template that raises, fails to parse or gets bad input is an InvalidArgumentError', () => {
    const raised = (() => {
      try {
        renderChatTemplate(LLAMA3_STYLE, { messages: [{ role: 'narrator', content: 'x' }], addGenerationPrompt: false, extra: { date_string: 'd' } });
      } catch (e) {
        return e;
      }
    })();
    expect(raised).toBeInstanceOf(InvalidArgumentError);
    expect((raised as Error).message).toMatch(/Chat template raised an error: .*Unknown role: narrator/);
    expect(() => renderChatTemplate('{% if %}', { messages: [], addGenerationPrompt: false })).toThrow(/does not parse/);
    expect(() => renderChatTemplate('', { messages: [], addGenerationPrompt: false })).toThrow(InvalidArgumentError);
    expect(() => renderChatTemplate('{{ x }}', { messages: 'hi' as unknown as ChatMessage[], addGenerationPrompt: false })).toThrow(InvalidArgumentError);
    // After errors the same template still renders.
    expect(renderChatTemplate(QWEN3_STYLE, { messages: [{ role: 'user', content: 'ok' }], addGenerationPrompt: false })).toBe('<|im_start|>user\nok<|im_end|>\n');
  });
});
