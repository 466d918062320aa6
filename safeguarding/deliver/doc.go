// Package deliver sends safeguarding messages: email over SMTP (STARTTLS
// required unless turned off for a local relay), webhooks with generic
// JSON, Microsoft Teams (an Adaptive Card, accepted by Teams workflows and
// incoming webhooks) and Slack payloads, and RFC 5424 syslog over UDP or
// TCP. Each send is one attempt with a deadline; retries, backoff and
// durability belong to the caller's outbox. Every message carries an
// idempotency key (email Message-ID, webhook Idempotency-Key header and
// JSON field, syslog MSGID) so receivers can drop the duplicates an
// at-least-once outbox may produce. Values in a message come from DNS
// queries and DHCP leases and are hostile: header values lose control
// characters, Slack and Teams text is escaped for their markup. It imports
// nothing from Gatehouse.
package deliver
