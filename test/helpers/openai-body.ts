/** An OpenAI chat completion's JSON body, as scripted servers answer: one choice, `usage` as given. */
export function chatCompletionBody(
  usage: object = { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
  model = 'gpt-4o-mini',
): string {
  return JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 0,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage,
  });
}
