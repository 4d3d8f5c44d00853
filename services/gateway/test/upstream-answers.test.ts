import * as http2 from 'node:http2';
import { grpc as grpcWeb } from '@improbable-eng/grpc-web';
import { NodeHttpTransport } from '@improbable-eng/grpc-web-node-http-transport';
import { GrpcWebImpl as StudentWeb, StudentServiceClientImpl } from '../../../gen/web/coursereg/student/v1/student_service';
import { createTestEnv, type TestEnv } from '../../shared/testing/harness';
import { startGateway, type StartedGateway } from '../src/main';
import { changedEnvoyConfig, webFailure } from './gateway.fixtures';
import { answerOk, startStandIn, waitFor, type StandIn } from './stand-in';

// Answers from the service that are not plain gRPC: an HTTP 5xx with a body (as a proxy in
// front of a service sends), and a stream the service refuses.

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv('gateway_upstream_answers');
});
afterAll(async () => {
  await env?.cleanup();
});

const ERROR_PAGE = 'upstream connect error or disconnect/reset before headers';

/** Answers every call with HTTP 503 and a text body until `healthy`, then with an empty gRPC message. */
function errorPageService(state: { healthy: boolean; calls: number }): Promise<StandIn> {
  return startStandIn((stream) => {
    state.calls++;
    stream.on('end', () => {
      if (state.healthy) {
        answerOk(stream);
        return;
      }
      stream.respond({ ':status': 503, 'content-type': 'text/plain' });
      stream.end(ERROR_PAGE);
    });
  });
}

async function gatewayFor(service: StandIn, change: (yaml: string) => string = (y) => y): Promise<{ gw: StartedGateway; students: StudentServiceClientImpl; md: grpcWeb.Metadata; token: string; done(): Promise<void> }> {
  const config = changedEnvoyConfig(change);
  const gw = await startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', STUDENT_SERVICE_ADDR: service.address, WEB_DIST_DIR: '/nonexistent', ENVOY_CONFIG_FILE: config.file });
  const token = await env.signer.sign('registrar-1', 'registrar', 3600);
  return {
    gw,
    token,
    md: new grpcWeb.Metadata({ authorization: `Bearer ${token}` }),
    students: new StudentServiceClientImpl(new StudentWeb(`http://127.0.0.1:${gw.port}`, { transport: NodeHttpTransport() })),
    async done() {
      await gw.stop();
      config.remove();
      await service.close();
    },
  };
}

/** The student cluster with `max_requests` lowered, and no ejection on gateway errors, so only the threshold speaks. */
function smallStudentCluster(maxRequests: number) {
  return (yaml: string) => {
    const at = yaml.indexOf('\n    - name: student\n', yaml.indexOf('\n  clusters:'));
    expect(at).toBeGreaterThan(0);
    const tail = yaml
      .slice(at)
      .replace('max_requests: 1024', `max_requests: ${maxRequests}`)
      .replace('enforcing_consecutive_gateway_failure: 100', 'enforcing_consecutive_gateway_failure: 0');
    return yaml.slice(0, at) + tail;
  };
}

it('retriedAnswersWithABody_giveBackTheirStreams_theClusterKeepsServing', async () => {
  const state = { healthy: false, calls: 0 };
  const { gw, students, md, done } = await gatewayFor(await errorPageService(state), smallStudentCluster(4));
  const cluster = gw.upstreams.get('student')!;
  try {
    // A read is retried on a gateway error (503): each attempt's answer is dropped but the last.
    for (let i = 0; i < 3; i++) {
      const err = await webFailure(students.ListHolds({ studentId: 'S0001' }, md));
      expect(err.code).toBe(grpcWeb.Code.Unavailable);
      await waitFor(() => cluster.resources.requests === 0, `the failed call's streams to be given back (requests ${cluster.resources.requests})`);
    }
    // Three calls of three attempts each went to the service; with the streams leaked, the
    // threshold (4) would refuse everything from the second call on.
    expect(state.calls).toBe(9);
    state.healthy = true;
    await expect(students.ListHolds({ studentId: 'S0001' }, md)).resolves.toBeDefined();
    await waitFor(() => cluster.resources.requests === 0, 'the stream of the answered call to be given back');
  } finally {
    await done();
  }
});

it('aNonGrpcAnswer_reachesAGrpcWebCallerAsHeadersOnly_withTheStatusForItsHttpCode', async () => {
  const state = { healthy: false, calls: 0 };
  const { gw, students, md, token, done } = await gatewayFor(await errorPageService(state));
  try {
    // A write (no retries): the service's own answer is relayed, turned into gRPC-web as Envoy's
    // grpc_web filter turns it: its body becomes grpc-message, HTTP 503 gives UNAVAILABLE.
    const res = await fetch(`http://127.0.0.1:${gw.port}/coursereg.student.v1.StudentService/UpdateStudent`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', authorization: `Bearer ${token}` },
      body: Buffer.from([0, 0, 0, 0, 0]),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/grpc-web+proto');
    expect(res.headers.get('grpc-status')).toBe('14');
    expect(decodeURIComponent(res.headers.get('grpc-message')!)).toBe(ERROR_PAGE);
    expect((await res.arrayBuffer()).byteLength).toBe(0);

    // The browser's client reads it as UNAVAILABLE with the service's text.
    const err = await webFailure(students.UpdateStudent({ studentId: 'S0001' } as Parameters<StudentServiceClientImpl['UpdateStudent']>[0], md));
    expect(err.code).toBe(grpcWeb.Code.Unavailable);
    expect(err.message).toContain(ERROR_PAGE);
    expect(state.calls).toBe(2);
    await waitFor(() => gw.upstreams.get('student')!.resources.requests === 0, 'the relayed answers to give back their streams');
  } finally {
    await done();
  }
});

it('aStreamTheServiceRefuses_isRetriedUnderRetryOnRefusedStream', async () => {
  let calls = 0;
  const service = await startStandIn((stream) => {
    calls++;
    if (calls === 1) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    stream.on('end', () => answerOk(stream));
  });
  // The student reads' route retries refused streams only.
  const { students, md, done } = await gatewayFor(service, (yaml) => {
    const at = yaml.indexOf('- name: student-reads');
    expect(at).toBeGreaterThan(0);
    return yaml.slice(0, at) + yaml.slice(at).replace(/retry_on: [^\n]+/, 'retry_on: refused-stream');
  });
  try {
    await expect(students.ListHolds({ studentId: 'S0001' }, md)).resolves.toBeDefined();
    expect(calls).toBe(2);
  } finally {
    await done();
  }
});
