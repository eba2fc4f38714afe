// The AWS SDK for Go (v1, Debian's golang-github-aws-aws-sdk-go-dev, built offline in
// GOPATH mode) against owd serve: CreateDeployment and DescribeDeployments with the
// endpoint set in code. Prints the described deployments as JSON; errors go to stderr
// as "<code>: <message>" with exit status 3.
//
//	owdgo ENDPOINT STACK_ID APP_ID
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/opsworks"
)

func fail(err error) {
	if e, ok := err.(awserr.Error); ok {
		fmt.Fprintf(os.Stderr, "%s: %s\n", e.Code(), e.Message())
		os.Exit(3)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: owdgo ENDPOINT STACK_ID APP_ID")
		os.Exit(2)
	}
	endpoint, stackID, appID := os.Args[1], os.Args[2], os.Args[3]
	sess, err := session.NewSession(&aws.Config{
		Endpoint:    aws.String(endpoint),
		Region:      aws.String("us-east-1"),
		Credentials: credentials.NewStaticCredentials(os.Getenv("OWD_KEY_ID"), os.Getenv("OWD_SECRET"), ""),
		MaxRetries:  aws.Int(0),
	})
	if err != nil {
		fail(err)
	}
	client := opsworks.New(sess)
	created, err := client.CreateDeployment(&opsworks.CreateDeploymentInput{
		StackId: aws.String(stackID),
		AppId:   aws.String(appID),
		Command: &opsworks.DeploymentCommand{Name: aws.String("deploy")},
		Comment: aws.String("from the Go SDK"),
	})
	if err != nil {
		fail(err)
	}
	described, err := client.DescribeDeployments(&opsworks.DescribeDeploymentsInput{StackId: aws.String(stackID)})
	if err != nil {
		fail(err)
	}
	out := map[string]interface{}{"DeploymentId": *created.DeploymentId, "Deployments": described.Deployments}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}
