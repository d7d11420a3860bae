import { describe, expect, it } from 'vitest';
import { CONTENT_LIMITS } from './content-limits';
import { placeholdersOf, renderContent } from './group-content';

describe('renderContent', () => {
  it('fills each placeholder, escapes values in html only, and never expands a value again', () => {
    const r = renderContent(
      { subject: 'For {{ name }}', body: 'Hi {{name}}, code {{code}}', html: '<p>{{name}}</p>', template: { name: 'promo', variables: { '1': '{{name}}' } } },
      { name: 'Ada & <Co> {{code}}', code: '7' },
    );
    expect(r).toEqual({
      ok: true,
      content: {
        subject: 'For Ada & <Co> {{code}}',
        body: 'Hi Ada & <Co> {{code}}, code 7',
        html: '<p>Ada &amp; &lt;Co&gt; {{code}}</p>',
        template: { name: 'promo', variables: { '1': 'Ada & <Co> {{code}}' } },
      },
    });
  });

  it('reports a rendering over the limit by field and length', () => {
    const html = '{{x}}'.repeat(1000);
    const r = renderContent({ body: 'ok', html }, { x: '&'.repeat(1024) });
    expect(r).toEqual({ ok: false, field: 'html', length: 1000 * 1024 * 5, limit: CONTENT_LIMITS.html });
    const body = renderContent({ body: '{{x}}'.repeat(100) }, { x: 'y'.repeat(1024) });
    expect(body).toMatchObject({ ok: false, field: 'body', length: 102_400, limit: CONTENT_LIMITS.body });
    const exact = renderContent({ body: `${'a'.repeat(CONTENT_LIMITS.body - 1)}{{x}}` }, { x: 'b' });
    expect(exact.ok).toBe(true);
  });

  it('names the placeholders the content uses', () => {
    expect(placeholdersOf({ body: '{{a}} {{ b }}', html: '{{c}}', template: { name: 't', variables: { '1': '{{d}}' } } })).toEqual(
      new Set(['a', 'b', 'c', 'd']),
    );
  });
});
