package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/core"
)

// liveReader is the real ARM, read through DefaultAzureCredential (Azure
// CLI login, environment, workload identity) or the managed identity of
// AZURE_CLIENT_ID where one is present. `policy explain --live` and `replay
// --live` only ever read through it. Tests replace it.
var liveReader = func() (core.Reader, error) {
	cred, err := azure.NewCredential(strings.TrimSpace(os.Getenv(envClientID)), azure.InAzure(os.Getenv))
	if err != nil {
		return nil, fmt.Errorf("azure credential (az login, or AZURE_CLIENT_ID/AZURE_TENANT_ID/... for a service principal): %w", err)
	}
	c, err := azure.New(cred, nil, azure.Config{})
	if err != nil {
		return nil, err
	}
	return c, nil
}
