import { readGatewayConfig } from '../src/config';

test('gatewayConfig_badValues_areRefusedNamingTheVariable', () => {
  expect(() => readGatewayConfig({ GATEWAY_PORT: '' })).toThrow(/GATEWAY_PORT: expected a whole number/);
  expect(() => readGatewayConfig({ GATEWAY_RATELIMIT_PIPELINE_WINDOW_MS: '51' })).toThrow(/GATEWAY_RATELIMIT_PIPELINE_WINDOW_MS: expected 0 to 50, got 51/);
  expect(() => readGatewayConfig({ STUDENT_SERVICE_ADDR: '127.0.0.1:50052,127.0.0.1:99999' })).toThrow(/STUDENT_SERVICE_ADDR: a port is over 65535/);
  const config = readGatewayConfig({ STUDENT_SERVICE_ADDR: 'a:1,b:65535' });
  expect(config.STUDENT_SERVICE_ADDR).toEqual(['a:1', 'b:65535']);
  expect(config.GATEWAY_PORT).toBe(8080);
});
