"""The CDK app that deploys Strikeboard to an AWS account (`cdk deploy --all`)."""
