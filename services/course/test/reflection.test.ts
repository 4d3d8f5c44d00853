import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import * as descriptor from 'protobufjs/ext/descriptor';
import { courseInput, seedCatalog, startCourseWorld, type CourseWorld } from './course.fixtures';

/**
 * A client that knows nothing of coursereg's generated code, as grpcurl or any
 * other language's dynamic client would: it learns the API from server
 * reflection alone, builds message types from the descriptors it receives,
 * and lists courses.
 */
let w: CourseWorld;
let target: string;

beforeAll(async () => {
  w = await startCourseWorld('reflection');
  await seedCatalog(w);
  await w.api.createCourse({ course: courseInput('MATH 101', { title: 'Calculus I' }) }, w.registrar);
  target = (w.client as grpc.Client).getChannel().getTarget().replace(/^dns:/, '');
});
afterAll(async () => w.stop());

type Reflection = grpc.Client & { ServerReflectionInfo(): grpc.ClientDuplexStream<object, Record<string, any>> };

function reflectionClient(): Reflection {
  const pkg = protoLoader.loadSync('grpc/reflection/v1alpha/reflection.proto', {
    includeDirs: [join(require.resolve('@grpc/reflection/package.json'), '..', 'build', 'proto')],
    keepCase: true,
  });
  const ctor = (grpc.loadPackageDefinition(pkg) as any).grpc.reflection.v1alpha.ServerReflection as grpc.ServiceClientConstructor;
  return new ctor(target, grpc.credentials.createInsecure()) as unknown as Reflection;
}

function ask(client: Reflection, request: object): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const stream = client.ServerReflectionInfo();
    stream.on('data', (msg) => {
      resolve(msg);
      stream.end();
    });
    stream.on('error', reject);
    stream.write(request);
  });
}

test('reflection_letsAGenericClientDiscoverTheApiAndListCourses', async () => {
  const client = reflectionClient();
  const services = await ask(client, { list_services: '' });
  const names = services.list_services_response.service.map((s: { name: string }) => s.name);
  expect(names).toEqual(expect.arrayContaining(['coursereg.course.v1.CourseService', 'grpc.health.v1.Health']));

  const files = await ask(client, { file_containing_symbol: 'coursereg.course.v1.CourseService' });
  const fileProtos = files.file_descriptor_response.file_descriptor_proto.map((b: Buffer) => descriptor.FileDescriptorProto.decode(b));
  // Dependencies (course.proto, google/protobuf/*) come along so the set is complete.
  const known = new Set(fileProtos.map((f: any) => f.name));
  for (const f of fileProtos as any[]) for (const dep of f.dependency ?? []) if (!known.has(dep)) {
    const more = await ask(client, { file_by_filename: dep });
    for (const b of more.file_descriptor_response.file_descriptor_proto) {
      const fp = descriptor.FileDescriptorProto.decode(b) as any;
      if (!known.has(fp.name)) {
        known.add(fp.name);
        fileProtos.push(fp);
      }
    }
  }
  client.close();
  const root = (protobuf.Root as any).fromDescriptor({ file: fileProtos }) as protobuf.Root;
  const service = root.lookupService('coursereg.course.v1.CourseService');
  const method = service.methods['ListCourses'];
  const Req = root.lookupType(method.requestType.replace(/^\./, ''));
  const Res = root.lookupType(method.responseType.replace(/^\./, ''));

  const generic = new grpc.Client(target, grpc.credentials.createInsecure());
  const response = await new Promise<any>((resolve, reject) =>
    generic.makeUnaryRequest(
      '/coursereg.course.v1.CourseService/ListCourses',
      (v: object) => Buffer.from(Req.encode(Req.fromObject(v)).finish()),
      (b: Buffer) => Res.toObject(Res.decode(b), { defaults: true }),
      { pageSize: 10 },
      w.student,
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
  generic.close();
  expect(response.courses.map((c: { code: string }) => c.code)).toEqual(['CS 101', 'CS 201', 'MATH 101']);
  expect(response.courses[2].title).toBe('Calculus I');
});
