// Package blobstore keeps verification reports in an Azure Storage blob
// container (AUTOPILOT_REPORTS_URL) as blobs <subject key>/<time>-attempt<N>.json.
// It implements verify.ReportStore through the SDK's azblob client and lives
// apart from package verify so that the verifier links no Azure SDK.
package blobstore
