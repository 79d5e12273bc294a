package balance

// A task (the io.modelcontextprotocol/tasks extension of 2026-07-28) lives
// on the member that created it: its id is tagged like a cursor (tags.Seal)
// in every answer and notification toward the client, and tasks/get,
// tasks/update, tasks/cancel and a subscriptions/listen naming task ids go
// back to that member with the member's own id (and Mcp-Name: tags.Header).
