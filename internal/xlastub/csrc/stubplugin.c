// A compile-only PJRT plugin: enough of the PJRT C API for GoMLX's XLA backend (through go-xla) to
// start a client with one device, build graphs with its StableHLO builder, and hand a program to
// PJRT_Client_Compile. It compiles nothing and runs nothing: Compile saves the program it was given
// to the folder named by BITTER_XLA_STUB_OUT (program-N.<format>) and fails with a message that
// starts with "xlastub: compile-only". Built by package xlastub against go-xla's pjrt_c_api.h.
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
  return newError(PJRT_Error_Code_UNIMPLEMENTED, message);
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
  return &api;
}
