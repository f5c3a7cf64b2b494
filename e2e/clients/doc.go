// Package clients holds the end-to-end tests of the protocols with real clients: the Elasticsearch and OpenSearch clients, Filebeat-style and Vector-style shippers, pino and winston, the OpenTelemetry Collector and Go SDK, Splunk HEC, logger and rsyslog over TCP, UDP and TLS, and the per-protocol metrics.
package clients
