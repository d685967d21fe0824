// make_profile.mjs ENDPOINT NAME - CreateInferenceProfile with the AWS SDK
// for JavaScript (credentials and region from the environment): an
// application inference profile copied from Haiku 4.5's us. profile. Prints
// its ARN. Test-side only (tests/e2e/gateway_claude.sh).
import { BedrockClient, CreateInferenceProfileCommand } from '@aws-sdk/client-bedrock';

const [endpoint, name] = process.argv.slice(2);
const region = process.env.AWS_REGION || 'us-west-2';
const client = new BedrockClient({ region, endpoint });
const r = await client.send(new CreateInferenceProfileCommand({
  inferenceProfileName: name,
  modelSource: {
    copyFrom: `arn:aws:bedrock:${region}:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0`,
  },
}));
console.log(r.inferenceProfileArn);
