// A compile-only PJRT plugin: enough of the PJRT C API for GoMLX's XLA backend (through go-xla) to
// start a client with one device, build graphs with its StableHLO builder, and hand a program to
// PJRT_Client_Compile. It compiles nothing and runs nothing: Compile saves the program it was given
// to the folder named by BITTER_XLA_STUB_OUT (program-N.<format>) and fails with a message that
// starts with "xlastub: compile-only". Built by package xlastub against go-xla's pjrt_c_api.h.
//
// With XLASTUB_RUN=1 it goes on: Compile returns an executable whose outputs (their types read from
// the program's main signature) are all zeros, and buffers live in host memory, so that a whole
// program (a training run, generation, checkpoints) can take the XLA backend's code paths end to
// end on a machine without a GPU. The numbers are meaningless; the plumbing is not.
//
// With XLASTUB_NEWER=1 it also plays a plugin built against a newer C API, whose argument structs
// all grew by NEWER_BYTES: like XLA's plugins (pjrt::ActualStructSizeIsGreaterOrEqual, with its
// message) it refuses a struct_size below that, and it refuses room it does not find zero.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pjrt_c_api.h"

struct PJRT_Error {
  PJRT_Error_Code code;
  char message[8192];
};

struct PJRT_Client {
  int unused;
};

struct PJRT_Device {
  int id;
};

struct PJRT_DeviceDescription {
  int id;
};

struct PJRT_Event {
  int ready;
};

struct PJRT_Buffer {
  PJRT_Buffer_Type type;
  size_t num_dims;
  int64_t* dims;
  size_t size;
  void* data;
};

enum { MAX_OUTPUTS = 65536 };

struct PJRT_Executable {
  char name[256];
  size_t num_outputs;
  PJRT_Buffer_Type* types;
  size_t* num_dims;
  int64_t** dims;
  int64_t output_bytes;   // the outputs' sizes, reported as compiled memory's outputs
  int64_t program_bytes;  // the program's text, reported as its temporaries: a number to check plumbing with
};

struct PJRT_LoadedExecutable {
  struct PJRT_Executable executable;
};

static struct PJRT_DeviceDescription theDescription;
static int run;

static struct PJRT_Client theClient;
static struct PJRT_Device theDevice;
static PJRT_Device* devices[1] = {&theDevice};
static int programs;

static PJRT_Error* newError(PJRT_Error_Code code, const char* message) {
  PJRT_Error* e = calloc(1, sizeof(PJRT_Error));
  e->code = code;
  snprintf(e->message, sizeof(e->message), "%s", message);
  return e;
}

enum { NEWER_BYTES = 16, NEWER_MINOR = PJRT_API_MINOR + 40 };
static int newer;

// checkNewer is what a newer plugin checks of an argument struct the caller knows `known` bytes of.
static PJRT_Error* checkNewer(const char* name, size_t known, const void* args, size_t actual) {
  if (!newer) return NULL;
  char message[8192];
  size_t want = known + NEWER_BYTES;
  if (actual < want) {
    snprintf(message, sizeof(message),
             "Unexpected %s size: expected %zu, got %zu. The plugin is likely built with a later version "
             "than the framework. This plugin is built with PJRT API version 0.%d (xlastub, XLASTUB_NEWER=1).",
             name, want, actual, NEWER_MINOR);
    return newError(PJRT_Error_Code_INVALID_ARGUMENT, message);
  }
  for (size_t i = known; i < want; i++) {
    if (((const unsigned char*)args)[i] != 0) {
      snprintf(message, sizeof(message), "xlastub: %s: the fields added after %zu bytes are not zero", name, known);
      return newError(PJRT_Error_Code_INVALID_ARGUMENT, message);
    }
  }
  return NULL;
}

#define CHECK_NEWER(type, args)                                                         \
  do {                                                                                  \
    PJRT_Error* e_ = checkNewer(#type, type##_STRUCT_SIZE, (args), (args)->struct_size); \
    if (e_ != NULL) return e_;                                                          \
  } while (0)

static void errorDestroy(PJRT_Error_Destroy_Args* args) { free(args->error); }

static void errorMessage(PJRT_Error_Message_Args* args) {
  args->message = args->error->message;
  args->message_size = strlen(args->error->message);
}

static PJRT_Error* errorGetCode(PJRT_Error_GetCode_Args* args) {
  args->code = args->error->code;
  return NULL;
}

static PJRT_Error* pluginInitialize(PJRT_Plugin_Initialize_Args* args) {
  CHECK_NEWER(PJRT_Plugin_Initialize_Args, args);
  return NULL;
}

static PJRT_Error* pluginAttributes(PJRT_Plugin_Attributes_Args* args) {
  CHECK_NEWER(PJRT_Plugin_Attributes_Args, args);
  args->attributes = NULL;
  args->num_attributes = 0;
  return NULL;
}

static PJRT_Error* clientCreate(PJRT_Client_Create_Args* args) {
  CHECK_NEWER(PJRT_Client_Create_Args, args);
  args->client = &theClient;
  return NULL;
}

static PJRT_Error* clientDestroy(PJRT_Client_Destroy_Args* args) {
  CHECK_NEWER(PJRT_Client_Destroy_Args, args);
  return NULL;
}

static PJRT_Error* clientPlatformName(PJRT_Client_PlatformName_Args* args) {
  CHECK_NEWER(PJRT_Client_PlatformName_Args, args);
  args->platform_name = "xlastub";
  args->platform_name_size = strlen("xlastub");
  return NULL;
}

static PJRT_Error* clientPlatformVersion(PJRT_Client_PlatformVersion_Args* args) {
  CHECK_NEWER(PJRT_Client_PlatformVersion_Args, args);
  args->platform_version = "compile-only";
  args->platform_version_size = strlen("compile-only");
  return NULL;
}

static PJRT_Error* clientProcessIndex(PJRT_Client_ProcessIndex_Args* args) {
  CHECK_NEWER(PJRT_Client_ProcessIndex_Args, args);
  args->process_index = 0;
  return NULL;
}

static PJRT_Error* clientDevices(PJRT_Client_Devices_Args* args) {
  CHECK_NEWER(PJRT_Client_Devices_Args, args);
  args->devices = devices;
  args->num_devices = 1;
  return NULL;
}

static PJRT_Error* clientAddressableDevices(PJRT_Client_AddressableDevices_Args* args) {
  CHECK_NEWER(PJRT_Client_AddressableDevices_Args, args);
  args->addressable_devices = devices;
  args->num_addressable_devices = 1;
  return NULL;
}

static PJRT_Error* deviceLocalHardwareId(PJRT_Device_LocalHardwareId_Args* args) {
  CHECK_NEWER(PJRT_Device_LocalHardwareId_Args, args);
  args->local_hardware_id = 0;
  return NULL;
}

static PJRT_Error* deviceIsAddressable(PJRT_Device_IsAddressable_Args* args) {
  CHECK_NEWER(PJRT_Device_IsAddressable_Args, args);
  args->is_addressable = true;
  return NULL;
}

static PJRT_Error* clientDefaultDeviceAssignment(PJRT_Client_DefaultDeviceAssignment_Args* args) {
  CHECK_NEWER(PJRT_Client_DefaultDeviceAssignment_Args, args);
  for (size_t i = 0; i < args->default_assignment_size; i++) args->default_assignment[i] = 0;
  return NULL;
}


// elementSize is the bytes of one element of a buffer type, 0 for types the stand-in does not hold.
static size_t elementSize(PJRT_Buffer_Type t) {
  switch (t) {
    case PJRT_Buffer_Type_PRED: case PJRT_Buffer_Type_S8: case PJRT_Buffer_Type_U8: return 1;
    case PJRT_Buffer_Type_S16: case PJRT_Buffer_Type_U16: case PJRT_Buffer_Type_F16: case PJRT_Buffer_Type_BF16: return 2;
    case PJRT_Buffer_Type_S32: case PJRT_Buffer_Type_U32: case PJRT_Buffer_Type_F32: return 4;
    case PJRT_Buffer_Type_S64: case PJRT_Buffer_Type_U64: case PJRT_Buffer_Type_F64: case PJRT_Buffer_Type_C64: return 8;
    case PJRT_Buffer_Type_C128: return 16;
    default: return 0;
  }
}

// mlirType maps a StableHLO element type to a buffer type; INVALID if unknown.
static PJRT_Buffer_Type mlirType(const char* s, size_t n) {
  static const struct { const char* name; PJRT_Buffer_Type type; } types[] = {
      {"i1", PJRT_Buffer_Type_PRED}, {"i8", PJRT_Buffer_Type_S8},     {"i16", PJRT_Buffer_Type_S16},
      {"i32", PJRT_Buffer_Type_S32}, {"i64", PJRT_Buffer_Type_S64},   {"ui8", PJRT_Buffer_Type_U8},
      {"ui16", PJRT_Buffer_Type_U16}, {"ui32", PJRT_Buffer_Type_U32}, {"ui64", PJRT_Buffer_Type_U64},
      {"f16", PJRT_Buffer_Type_F16}, {"f32", PJRT_Buffer_Type_F32},   {"f64", PJRT_Buffer_Type_F64},
      {"bf16", PJRT_Buffer_Type_BF16},
  };
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    if (strlen(types[i].name) == n && strncmp(types[i].name, s, n) == 0) return types[i].type;
  }
  return PJRT_Buffer_Type_INVALID;
}

static PJRT_Buffer* newBuffer(PJRT_Buffer_Type type, const int64_t* dims, size_t num_dims) {
  PJRT_Buffer* b = calloc(1, sizeof(PJRT_Buffer));
  b->type = type;
  b->num_dims = num_dims;
  b->dims = calloc(num_dims > 0 ? num_dims : 1, sizeof(int64_t));
  size_t n = 1;
  for (size_t i = 0; i < num_dims; i++) {
    b->dims[i] = dims[i];
    n *= (size_t)dims[i];
  }
  b->size = n * elementSize(type);
  b->data = calloc(b->size > 0 ? b->size : 1, 1);
  return b;
}

static PJRT_Event* newEvent(void) {
  PJRT_Event* e = calloc(1, sizeof(PJRT_Event));
  e->ready = 1;
  return e;
}

// newExecutable reads the result types of the program's main function
// ("func.func @main(...) -> (tensor<2x3xf32>, tensor<i32>) {") into an executable of zeros.
static PJRT_Error* newExecutable(const char* code, size_t size, int n, PJRT_LoadedExecutable** out) {
  char message[512];
  const char* end = code + size;
  const char* main = NULL;
  for (const char* c = code; c + 15 < end; c++) {
    if (strncmp(c, "func.func @main(", 16) == 0) { main = c; break; }
  }
  if (main == NULL) return newError(PJRT_Error_Code_INVALID_ARGUMENT, "xlastub: no func.func @main in the program");
  const char* eol = main;
  while (eol < end && *eol != '\n') eol++;
  const char* arrow = NULL;
  for (const char* c = main; c + 4 <= eol; c++) {
    if (strncmp(c, ") -> ", 5) == 0) arrow = c + 5;
  }
  PJRT_LoadedExecutable* le = calloc(1, sizeof(PJRT_LoadedExecutable));
  struct PJRT_Executable* e = &le->executable;
  snprintf(e->name, sizeof(e->name), "xlastub_program_%d", n);
  e->program_bytes = (int64_t)size;
  e->types = calloc(MAX_OUTPUTS, sizeof(PJRT_Buffer_Type));
  e->num_dims = calloc(MAX_OUTPUTS, sizeof(size_t));
  e->dims = calloc(MAX_OUTPUTS, sizeof(int64_t*));
  for (const char* c = arrow; c != NULL && c + 7 < eol; c++) {
    if (strncmp(c, "tensor<", 7) != 0) continue;
    if (e->num_outputs == MAX_OUTPUTS) return newError(PJRT_Error_Code_INVALID_ARGUMENT, "xlastub: too many outputs");
    const char* t = c + 7;
    const char* close = t;
    while (close < eol && *close != '>') close++;
    // Dimensions are the parts before the last 'x'-separated field, the element type is the last.
    int64_t dims[64];
    size_t nd = 0;
    const char* field = t;
    for (const char* q = t; q <= close; q++) {
      if (q < close && *q != 'x') continue;
      if (q == close) {
        PJRT_Buffer_Type type = mlirType(field, (size_t)(q - field));
        if (type == PJRT_Buffer_Type_INVALID || elementSize(type) == 0) {
          snprintf(message, sizeof(message), "xlastub: output type %.*s is not one the stand-in holds", (int)(close - t), t);
          return newError(PJRT_Error_Code_UNIMPLEMENTED, message);
        }
        e->types[e->num_outputs] = type;
      } else {
        if (nd == 64) return newError(PJRT_Error_Code_INVALID_ARGUMENT, "xlastub: rank above 64");
        dims[nd++] = strtoll(field, NULL, 10);
        field = q + 1;
      }
    }
    e->num_dims[e->num_outputs] = nd;
    e->dims[e->num_outputs] = calloc(nd > 0 ? nd : 1, sizeof(int64_t));
    memcpy(e->dims[e->num_outputs], dims, nd * sizeof(int64_t));
    int64_t bytes = (int64_t)elementSize(e->types[e->num_outputs]);
    for (size_t i = 0; i < nd; i++) bytes *= dims[i];
    e->output_bytes += bytes;
    e->num_outputs++;
    c = close;
  }
  *out = le;
  return NULL;
}

static PJRT_Error* clientCompile(PJRT_Client_Compile_Args* args) {
  CHECK_NEWER(PJRT_Client_Compile_Args, args);
  const PJRT_Program* p = args->program;
  char format[32] = "bin";
  if (p->format_size > 0 && p->format_size < sizeof(format)) {
    memcpy(format, p->format, p->format_size);
    format[p->format_size] = 0;
  }
  int n = programs++;
  char message[8192];
  const char* dir = getenv("BITTER_XLA_STUB_OUT");
  if (dir != NULL && dir[0] != 0) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/program-%d.%s", dir, n, format);
    FILE* f = fopen(path, "wb");
    if (f == NULL || fwrite(p->code, 1, p->code_size, f) != p->code_size) {
      if (f) fclose(f);
      snprintf(message, sizeof(message), "xlastub: cannot write %s", path);
      return newError(PJRT_Error_Code_INTERNAL, message);
    }
    fclose(f);
    snprintf(message, sizeof(message),
             "xlastub: compile-only stand-in: program %d (%zu bytes of %s, %zu bytes of options) saved to %s",
             n, p->code_size, format, args->compile_options_size, path);
  } else {
    snprintf(message, sizeof(message),
             "xlastub: compile-only stand-in: program %d (%zu bytes of %s, %zu bytes of options) not saved",
             n, p->code_size, format, args->compile_options_size);
  }
  if (!run) return newError(PJRT_Error_Code_UNIMPLEMENTED, message);
  return newExecutable(p->code, p->code_size, n, &args->executable);
}


static PJRT_Error* eventDestroy(PJRT_Event_Destroy_Args* args) {
  free(args->event);
  return NULL;
}

static PJRT_Error* eventAwait(PJRT_Event_Await_Args* args) { return NULL; }

static PJRT_Error* eventIsReady(PJRT_Event_IsReady_Args* args) {
  args->is_ready = true;
  return NULL;
}

static PJRT_Error* eventError(PJRT_Event_Error_Args* args) { return NULL; }

static PJRT_Error* eventOnReady(PJRT_Event_OnReady_Args* args) {
  args->callback(NULL, args->user_arg);
  return NULL;
}

static PJRT_Error* deviceGetDescription(PJRT_Device_GetDescription_Args* args) {
  CHECK_NEWER(PJRT_Device_GetDescription_Args, args);
  args->device_description = &theDescription;
  return NULL;
}

static PJRT_Error* descriptionProcessIndex(PJRT_DeviceDescription_ProcessIndex_Args* args) {
  args->process_index = 0;
  return NULL;
}

static PJRT_Error* descriptionDebugString(PJRT_DeviceDescription_DebugString_Args* args) {
  args->debug_string = "xlastub device 0";
  args->debug_string_size = strlen(args->debug_string);
  return NULL;
}

static PJRT_Error* bufferFromHost(PJRT_Client_BufferFromHostBuffer_Args* args) {
  CHECK_NEWER(PJRT_Client_BufferFromHostBuffer_Args, args);
  if (elementSize(args->type) == 0) return newError(PJRT_Error_Code_UNIMPLEMENTED, "xlastub: a buffer type the stand-in does not hold");
  if (args->byte_strides != NULL && args->num_byte_strides > 0) {
    return newError(PJRT_Error_Code_UNIMPLEMENTED, "xlastub: strided host buffers");
  }
  PJRT_Buffer* b = newBuffer(args->type, args->dims, args->num_dims);
  if (b->size > 0) memcpy(b->data, args->data, b->size);
  args->buffer = b;
  args->done_with_host_buffer = newEvent();
  return NULL;
}

static PJRT_Error* bufferDestroy(PJRT_Buffer_Destroy_Args* args) {
  CHECK_NEWER(PJRT_Buffer_Destroy_Args, args);
  if (args->buffer != NULL) {
    free(args->buffer->data);
    free(args->buffer->dims);
    free(args->buffer);
  }
  return NULL;
}

static PJRT_Error* bufferToHost(PJRT_Buffer_ToHostBuffer_Args* args) {
  CHECK_NEWER(PJRT_Buffer_ToHostBuffer_Args, args);
  if (args->dst == NULL) {
    args->dst_size = args->src->size;
    return NULL;
  }
  if (args->dst_size < args->src->size) return newError(PJRT_Error_Code_INVALID_ARGUMENT, "xlastub: host buffer too small");
  memcpy(args->dst, args->src->data, args->src->size);
  args->event = newEvent();
  return NULL;
}

static PJRT_Error* bufferElementType(PJRT_Buffer_ElementType_Args* args) {
  CHECK_NEWER(PJRT_Buffer_ElementType_Args, args);
  args->type = args->buffer->type;
  return NULL;
}

static PJRT_Error* bufferDimensions(PJRT_Buffer_Dimensions_Args* args) {
  CHECK_NEWER(PJRT_Buffer_Dimensions_Args, args);
  args->dims = args->buffer->dims;
  args->num_dims = args->buffer->num_dims;
  return NULL;
}

static PJRT_Error* bufferDevice(PJRT_Buffer_Device_Args* args) {
  CHECK_NEWER(PJRT_Buffer_Device_Args, args);
  args->device = &theDevice;
  return NULL;
}

static PJRT_Error* loadedGetExecutable(PJRT_LoadedExecutable_GetExecutable_Args* args) {
  CHECK_NEWER(PJRT_LoadedExecutable_GetExecutable_Args, args);
  args->executable = &args->loaded_executable->executable;
  return NULL;
}

static PJRT_Error* loadedDestroy(PJRT_LoadedExecutable_Destroy_Args* args) {
  CHECK_NEWER(PJRT_LoadedExecutable_Destroy_Args, args);
  struct PJRT_Executable* e = &args->executable->executable;
  for (size_t i = 0; i < e->num_outputs; i++) free(e->dims[i]);
  free(e->dims);
  free(e->num_dims);
  free(e->types);
  free(args->executable);
  return NULL;
}

static PJRT_Error* executableDestroy(PJRT_Executable_Destroy_Args* args) {
  CHECK_NEWER(PJRT_Executable_Destroy_Args, args);
  return NULL;  // owned by its loaded executable
}

static PJRT_Error* executableName(PJRT_Executable_Name_Args* args) {
  CHECK_NEWER(PJRT_Executable_Name_Args, args);
  args->executable_name = args->executable->name;
  args->executable_name_size = strlen(args->executable->name);
  return NULL;
}

static PJRT_Error* executableNumOutputs(PJRT_Executable_NumOutputs_Args* args) {
  CHECK_NEWER(PJRT_Executable_NumOutputs_Args, args);
  args->num_outputs = args->executable->num_outputs;
  return NULL;
}

// executableMemoryStats reports, on the device, the outputs' bytes and, as temporaries, the program
// text's bytes (not what a compiler would need: numbers a test can predict); the rest zero.
static PJRT_Error* executableMemoryStats(PJRT_Executable_GetCompiledMemoryStats_Args* args) {
  CHECK_NEWER(PJRT_Executable_GetCompiledMemoryStats_Args, args);
  args->output_size_in_bytes = args->executable->output_bytes;
  args->temp_size_in_bytes = args->executable->program_bytes;
  return NULL;
}

static PJRT_Error* execute(PJRT_LoadedExecutable_Execute_Args* args) {
  CHECK_NEWER(PJRT_LoadedExecutable_Execute_Args, args);
  CHECK_NEWER(PJRT_ExecuteOptions, args->options);
  struct PJRT_Executable* e = &args->executable->executable;
  for (size_t d = 0; d < args->num_devices; d++) {
    for (size_t i = 0; i < e->num_outputs; i++) {
      args->output_lists[d][i] = newBuffer(e->types[i], e->dims[i], e->num_dims[i]);
    }
    if (args->device_complete_events != NULL) args->device_complete_events[d] = newEvent();
  }
  return NULL;
}

// unimplemented answers any other call with an error instead of a call through a null pointer:
// every PJRT_Api function takes one pointer to its arguments and returns a PJRT_Error*.
static PJRT_Error* unimplemented(void* args) {
  return newError(PJRT_Error_Code_UNIMPLEMENTED, "xlastub: this PJRT function is not implemented by the compile-only stand-in");
}

static PJRT_Api api;

const PJRT_Api* GetPjrtApi(void) {
  const char* env = getenv("XLASTUB_NEWER");
  newer = env != NULL && strcmp(env, "1") == 0;
  env = getenv("XLASTUB_RUN");
  run = env != NULL && strcmp(env, "1") == 0;
  typedef PJRT_Error* (*anyFunction)(void*);
  anyFunction* functions = (anyFunction*)&api.PJRT_Error_Destroy;
  size_t count = (sizeof(PJRT_Api) - offsetof(PJRT_Api, PJRT_Error_Destroy)) / sizeof(anyFunction);
  for (size_t i = 0; i < count; i++) functions[i] = unimplemented;
  api.struct_size = PJRT_Api_STRUCT_SIZE;
  api.pjrt_api_version.struct_size = PJRT_Api_Version_STRUCT_SIZE;
  api.pjrt_api_version.major_version = PJRT_API_MAJOR;
  api.pjrt_api_version.minor_version = newer ? NEWER_MINOR : PJRT_API_MINOR;
  api.PJRT_Error_Destroy = errorDestroy;
  api.PJRT_Error_Message = errorMessage;
  api.PJRT_Error_GetCode = errorGetCode;
  api.PJRT_Plugin_Initialize = pluginInitialize;
  api.PJRT_Plugin_Attributes = pluginAttributes;
  api.PJRT_Client_Create = clientCreate;
  api.PJRT_Client_Destroy = clientDestroy;
  api.PJRT_Client_PlatformName = clientPlatformName;
  api.PJRT_Client_PlatformVersion = clientPlatformVersion;
  api.PJRT_Client_ProcessIndex = clientProcessIndex;
  api.PJRT_Client_Devices = clientDevices;
  api.PJRT_Client_AddressableDevices = clientAddressableDevices;
  api.PJRT_Client_DefaultDeviceAssignment = clientDefaultDeviceAssignment;
  api.PJRT_Client_Compile = clientCompile;
  api.PJRT_Device_LocalHardwareId = deviceLocalHardwareId;
  api.PJRT_Device_IsAddressable = deviceIsAddressable;
  if (run) {
    api.PJRT_Event_Destroy = eventDestroy;
    api.PJRT_Event_Await = eventAwait;
    api.PJRT_Event_IsReady = eventIsReady;
    api.PJRT_Event_Error = eventError;
    api.PJRT_Event_OnReady = eventOnReady;
    api.PJRT_Device_GetDescription = deviceGetDescription;
    api.PJRT_DeviceDescription_ProcessIndex = descriptionProcessIndex;
    api.PJRT_DeviceDescription_DebugString = descriptionDebugString;
    api.PJRT_Client_BufferFromHostBuffer = bufferFromHost;
    api.PJRT_Buffer_Destroy = bufferDestroy;
    api.PJRT_Buffer_ToHostBuffer = bufferToHost;
    api.PJRT_Buffer_ElementType = bufferElementType;
    api.PJRT_Buffer_Dimensions = bufferDimensions;
    api.PJRT_Buffer_Device = bufferDevice;
    api.PJRT_LoadedExecutable_GetExecutable = loadedGetExecutable;
    api.PJRT_LoadedExecutable_Destroy = loadedDestroy;
    api.PJRT_Executable_Destroy = executableDestroy;
    api.PJRT_Executable_Name = executableName;
    api.PJRT_Executable_NumOutputs = executableNumOutputs;
    api.PJRT_Executable_GetCompiledMemoryStats = executableMemoryStats;
    api.PJRT_LoadedExecutable_Execute = execute;
  }
  return &api;
}
