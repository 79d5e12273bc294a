package mcptrace

import (
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// The attributes of the spans, from OpenTelemetry's semantic conventions
// for MCP (https://opentelemetry.io/docs/specs/semconv/gen-ai/mcp/), which
// semconv v1.41.0 carries, and the few of the gateway's own, under
// caddy.mcp.
var (
	keyMethod           = semconv.McpMethodNameKey
	keySession          = semconv.McpSessionIDKey
	keyProtocol         = semconv.McpProtocolVersionKey
	keyResourceURI      = semconv.McpResourceURIKey
	keyRequestID        = semconv.JSONRPCRequestIDKey
	keyToolName         = semconv.GenAIToolNameKey
	keyPromptName       = semconv.GenAIPromptNameKey
	keyToolArguments    = semconv.GenAIToolCallArgumentsKey
	keyToolResult       = semconv.GenAIToolCallResultKey
	keyErrorType        = semconv.ErrorTypeKey
	keyRPCStatus        = semconv.RPCResponseStatusCodeKey
	keyServerAddress    = semconv.ServerAddressKey
	keyServerPort       = semconv.ServerPortKey
	keyNetworkTransport = semconv.NetworkTransportKey
	opExecuteTool       = semconv.GenAIOperationNameExecuteTool

	// keyUpstream names the upstream of an exchange as the operator
	// named it (mcp_proxy's upstream name).
	keyUpstream = attribute.Key("caddy.mcp.upstream")
	// keyRule names what decided a pipeline event: an interception
	// rule's name, else the stage's.
	keyRule = attribute.Key("caddy.mcp.rule")
	// keyDirection is the way the message of a pipeline event travelled:
	// to_server or to_client.
	keyDirection = attribute.Key("caddy.mcp.direction")
	// keyHoldEnded says how a hold ended: released, timeout, cancelled,
	// session_end.
	keyHoldEnded = attribute.Key("caddy.mcp.hold.ended")
	// keyGateway marks an event about a message the gateway made itself
	// (its own error answer).
	keyGateway = attribute.Key("caddy.mcp.gateway_message")
)

// errorTypeToolError is error.type for a tools/call result with isError,
// as the MCP conventions name it.
const errorTypeToolError = "tool_error"

// The names of the span events of the pipeline's verdicts.
const (
	EventHeld     = "held"
	EventBlocked  = "blocked"
	EventMocked   = "mocked"
	EventModified = "modified"
)
