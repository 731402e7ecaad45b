package outcome

import "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

func policyNoRetry() policy.RetryOptions { return policy.RetryOptions{MaxRetries: -1} }
