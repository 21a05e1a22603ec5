// A stand-in for a PJRT plugin built against a newer C API than go-xla v0.1.4's (0.83): its
// PJRT_Client_Create_Args has two more pointer fields, and it checks struct_size the way XLA's
// plugins do (pjrt::ActualStructSizeIsGreaterOrEqual, with XLA's message). It implements what
// go-xla calls before a client exists; client creation itself always fails, saying which check it
// reached, so that a test can tell a refused struct from an accepted one.
//
// Built by TestPaddedGoXLAReachesANewerPlugin against go-xla's own pjrt_c_api.h.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pjrt_c_api.h"

struct PJRT_Error {
  PJRT_Error_Code code;
  char message[512];
};

static PJRT_Error* newError(const char* format, size_t a, size_t b) {
  PJRT_Error* e = calloc(1, sizeof(PJRT_Error));
  e->code = PJRT_Error_Code_INVALID_ARGUMENT;
  snprintf(e->message, sizeof(e->message), format, a, b);
  return e;
}

// checkSize is XLA's ActualStructSizeIsGreaterOrEqual.
static PJRT_Error* checkSize(const char* name, size_t expected, size_t actual) {
  if (actual >= expected) return NULL;
  char format[256];
  snprintf(format, sizeof(format),
           "Unexpected %s size: expected %%zu, got %%zu. The plugin is likely built with a later "
           "version than the framework. This plugin is built with PJRT API version 0.120.",
           name);
  return newError(format, expected, actual);
}

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
  return checkSize("PJRT_Plugin_Initialize_Args", PJRT_Plugin_Initialize_Args_STRUCT_SIZE, args->struct_size);
}

static PJRT_Error* pluginAttributes(PJRT_Plugin_Attributes_Args* args) {
  PJRT_Error* e = checkSize("PJRT_Plugin_Attributes_Args", PJRT_Plugin_Attributes_Args_STRUCT_SIZE, args->struct_size);
  if (e) return e;
  args->attributes = NULL;
  args->num_attributes = 0;
  return NULL;
}

// The newer plugin's PJRT_Client_Create_Args: 0.83's fields, then two it added.
struct NewerClientCreateArgs {
  PJRT_Client_Create_Args v083;
  void* added_callback;
  void* added_user_arg;
};

static PJRT_Error* clientCreate(PJRT_Client_Create_Args* args) {
  PJRT_Error* e = checkSize("PJRT_Client_Create_Args", sizeof(struct NewerClientCreateArgs), args->struct_size);
  if (e) return e;
  const struct NewerClientCreateArgs* newer = (const struct NewerClientCreateArgs*)args;
  if (newer->added_callback != NULL || newer->added_user_arg != NULL) {
    return newError("newerplugin: PJRT_Client_Create_Args of %zu bytes accepted, but the fields added after %zu bytes are not zero",
                    args->struct_size, sizeof(PJRT_Client_Create_Args));
  }
  return newError("newerplugin: PJRT_Client_Create_Args of %zu bytes accepted, the fields added after %zu bytes zero; this stand-in has no devices",
                  args->struct_size, sizeof(PJRT_Client_Create_Args));
}

static PJRT_Api api;

const PJRT_Api* GetPjrtApi(void) {
  api.struct_size = PJRT_Api_STRUCT_SIZE;
  api.pjrt_api_version.struct_size = PJRT_Api_Version_STRUCT_SIZE;
  api.pjrt_api_version.major_version = 0;
  api.pjrt_api_version.minor_version = 120;
  api.PJRT_Error_Destroy = errorDestroy;
  api.PJRT_Error_Message = errorMessage;
  api.PJRT_Error_GetCode = errorGetCode;
  api.PJRT_Plugin_Initialize = pluginInitialize;
  api.PJRT_Plugin_Attributes = pluginAttributes;
  api.PJRT_Client_Create = clientCreate;
  return &api;
}
