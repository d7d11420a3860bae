// Example request bodies for the reference at /docs, one per channel type. Each is the body
// schema's `x-examples` (OpenAPI example objects; @fastify/swagger makes them the operation's
// named examples, AJV knows the keyword and ignores it). Ids, numbers, addresses and secrets
// are fake: tests/e2e/openapi.test.ts creates a channel from every channel example and passes
// every message and group example through the route's validation.

/** The channel an example sends through, per channel type (UUIDv7-shaped, not a real channel). */
const CHANNEL = {
  sms: '01900000-0000-7000-8000-000000000001',
  whatsapp: '01900000-0000-7000-8000-000000000002',
  messenger: '01900000-0000-7000-8000-000000000003',
  email: '01900000-0000-7000-8000-000000000004',
  smpp: '01900000-0000-7000-8000-000000000005',
} as const;

/** POST /v1/channels: each adapter's required credentials (adapters/<type>/README.md lists the optional ones). */
export const CREATE_CHANNEL_EXAMPLES = {
  sms: {
    summary: 'SMS through Twilio',
    value: {
      channel_type: 'sms',
      provider: 'twilio',
      name: 'Twilio, US long code',
      credentials: {
        account_sid: 'ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
        api_key: 'SKxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
        api_secret: 'example-api-key-secret',
        auth_token: 'example-auth-token',
        from: '+15005550006',
      },
      rate_limit_per_second: 10,
    },
  },
  whatsapp: {
    summary: 'WhatsApp Cloud API',
    value: {
      channel_type: 'whatsapp',
      name: 'WhatsApp, support number',
      credentials: {
        access_token: 'EAAexample-system-user-token',
        phone_number_id: '100000000000001',
        app_secret: 'example-app-secret',
      },
    },
  },
  messenger: {
    summary: 'Facebook Messenger (a Page)',
    value: {
      channel_type: 'messenger',
      name: 'Messenger, shop page',
      credentials: {
        page_access_token: 'EAAexample-page-token',
        app_secret: 'example-app-secret',
        page_id: '100000000000002',
      },
    },
  },
  email: {
    summary: 'Email over SMTP (STARTTLS required)',
    value: {
      channel_type: 'email',
      name: 'Email, receipts',
      credentials: {
        host: 'smtp.example.com',
        port: '587',
        require_tls: 'true',
        username: 'apikey',
        password: 'example-smtp-password',
        from_address: 'receipts@example.com',
        from_name: 'Example Shop',
      },
      daily_limit: 50000,
    },
  },
  smpp: {
    summary: 'SMPP through a Jasmin gateway',
    value: {
      channel_type: 'smpp',
      provider: 'jasmin',
      name: 'SMSC via Jasmin',
      credentials: {
        base_url: 'https://jasmin.example.com',
        username: 'turumba',
        password: 'example-pw',
        from: 'ExampleCo',
      },
      rate_limit_per_second: 50,
    },
  },
} as const;

/** POST /v1/messages: text per channel type, a WhatsApp template, an email with subject and HTML. */
export const SEND_MESSAGE_EXAMPLES = {
  sms: {
    summary: 'SMS',
    value: { channel_id: CHANNEL.sms, to: '+14155550100', body: 'Your verification code is 123456' },
  },
  whatsapp_text: {
    summary: 'WhatsApp text (within 24 h of the contact writing)',
    value: { channel_id: CHANNEL.whatsapp, to: '+14155550100', body: 'Thanks, your order #1042 is on its way.' },
  },
  whatsapp_template: {
    summary: 'WhatsApp template (any time); variables "1", "2" fill {{1}}, {{2}}',
    value: {
      channel_id: CHANNEL.whatsapp,
      to: '+14155550100',
      template: { name: 'order_shipped', language: 'en_US', variables: { '1': 'Ada', '2': '#1042' } },
    },
  },
  messenger: {
    summary: 'Messenger, to a page-scoped id; outside 24 h it needs metadata.message_tag',
    value: {
      channel_id: CHANNEL.messenger,
      to: '6000000000000001',
      body: 'Your booking for Saturday is confirmed.',
      metadata: { message_tag: 'CONFIRMED_EVENT_UPDATE' },
    },
  },
  email: {
    summary: 'Email with subject, text and HTML',
    value: {
      channel_id: CHANNEL.email,
      to: 'ada@example.com',
      subject: 'Your receipt for order #1042',
      body: 'Thank you for your order. Total: 42.00 EUR.',
      html: '<p>Thank you for your order.</p><p>Total: <b>42.00 EUR</b></p>',
      metadata: { order_id: '1042' },
    },
  },
  smpp: {
    summary: 'SMS over SMPP (Jasmin)',
    value: { channel_id: CHANNEL.smpp, to: '+14155550100', body: 'Your verification code is 123456' },
  },
} as const;

/** Ada and Alan at two phone numbers, with each one's own variables beside their first names. */
const phoneRecipients = (ada: Record<string, string>, alan: Record<string, string>) => [
  { to: '+14155550100', variables: { first_name: 'Ada', ...ada } },
  { to: '+14155550101', variables: { first_name: 'Alan', ...alan } },
];

/** POST /v1/group-messages: `{{variables}}` in the content, one value per recipient. */
export const CREATE_GROUP_EXAMPLES = {
  sms: {
    summary: 'SMS to two recipients, personalised (batched: the default mode)',
    value: {
      channel_id: CHANNEL.sms,
      body: 'Hi {{first_name}}, your appointment is on {{date}}.',
      recipients: phoneRecipients({ date: 'Monday 10:00' }, { date: 'Tuesday 14:30' }),
    },
  },
  whatsapp: {
    summary: 'WhatsApp template, a variable per recipient',
    value: {
      channel_id: CHANNEL.whatsapp,
      template: { name: 'order_shipped', language: 'en_US', variables: { '1': '{{first_name}}', '2': '{{order}}' } },
      recipients: phoneRecipients({ order: '#1042' }, { order: '#1043' }),
    },
  },
  messenger: {
    summary: 'Messenger, one workflow per recipient (per_message mode)',
    value: {
      channel_id: CHANNEL.messenger,
      body: 'The event starts in one hour.',
      mode: 'per_message',
      metadata: { message_tag: 'CONFIRMED_EVENT_UPDATE' },
      recipients: [{ to: '6000000000000001' }, { to: '6000000000000002' }],
    },
  },
  email: {
    summary: 'Email newsletter with subject and HTML',
    value: {
      channel_id: CHANNEL.email,
      subject: 'What is new in {{month}}',
      html: '<h1>Hello {{first_name}}</h1><p>Here is what changed this month.</p>',
      recipients: [
        { to: 'ada@example.com', variables: { first_name: 'Ada', month: 'June' } },
        { to: 'alan@example.com', variables: { first_name: 'Alan', month: 'June' } },
      ],
    },
  },
  smpp: {
    summary: 'SMPP, a draft: recipients added by POST /v1/group-messages/{id}/recipients (JSON or CSV), then /start',
    value: { channel_id: CHANNEL.smpp, body: 'Service notice: maintenance tonight 01:00-03:00.', draft: true },
  },
} as const;
