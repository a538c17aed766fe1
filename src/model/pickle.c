// pickle.c — a whitelisted pickle interpreter for torch state_dicts.
//
// It implements the opcodes torch.save's protocol-2 pickles use (plus protocol 4/5 FRAME,
// STACK_GLOBAL and MEMOIZE) over a tiny object model: none, bool, int, float, string,
// tuple, list, dict, mark-free stack + separate mark stack, whitelisted callables, storages
// and tensors. The only callables are
//   collections.OrderedDict()                 -> an empty dict
//   torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
//   torch._utils._rebuild_parameter(tensor, requires_grad, hooks) -> the tensor
//   torch.{Half,BFloat16,Float,Double,Byte,Char,Short,Int,Long,Bool}Storage (persistent ids only)
// Any other GLOBAL is refused by name. Nothing is ever executed. Every read is bounds
// checked, the object pool, stack and memo are bounded, so arbitrary bytes only produce
// errors (the file is fuzzed by tests/fuzz/fuzz_pickle.c).
//
// Objects live in one pool and refer to each other by index, so the memo can share them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/weights.h"

#define PICKLE_MAX_VALUES (1 << 24)  // pool entries; a Pythia-12b shard pickle needs ~10^4
#define PICKLE_MAX_MEMO (1 << 20)    // memo keys accepted: [0, this)

typedef enum value_kind {
    VALUE_NONE, VALUE_BOOL, VALUE_INT, VALUE_FLOAT, VALUE_STRING, VALUE_TUPLE, VALUE_LIST, VALUE_DICT,
    VALUE_GLOBAL, VALUE_STORAGE, VALUE_TENSOR,
} value_kind;

typedef enum global_kind { GLOBAL_ORDERED_DICT, GLOBAL_REBUILD_TENSOR, GLOBAL_REBUILD_PARAMETER, GLOBAL_STORAGE } global_kind;

typedef struct value {
    value_kind kind;
    int64_t number;        // INT/BOOL value; GLOBAL kind; STORAGE numel; TENSOR index into vm.tensors
    double real;           // FLOAT
    const char *text;      // STRING bytes (inside the pickle, not NUL-terminated); STORAGE key
    size_t text_length;
    tensor_dtype dtype;    // GLOBAL_STORAGE and STORAGE
    int *items;            // TUPLE / LIST items; DICT keys and values interleaved
    int count, capacity;
} value;

typedef struct pickle_vm {
    const uint8_t *data;
    size_t size, position, opcode_position;
    const char *path;
    memprof_error *err;
    value *values;
    int num_values, values_capacity;
    int *stack, depth, stack_capacity;
    int *marks, num_marks, marks_capacity;  // stack depths at each MARK
    int *memo, memo_capacity;               // value index + 1; 0 = empty
    int memo_count;                         // distinct keys stored (Python's len(memo))
    pickle_tensor *tensors;
    int num_tensors, tensors_capacity;
} pickle_vm;

static const struct {
    const char *module, *name;
    global_kind kind;
    tensor_dtype dtype;
} allowed_globals[] = {
    {"collections", "OrderedDict", GLOBAL_ORDERED_DICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", GLOBAL_REBUILD_TENSOR, 0},
    {"torch._utils", "_rebuild_parameter", GLOBAL_REBUILD_PARAMETER, 0},
    {"torch", "HalfStorage", GLOBAL_STORAGE, TENSOR_F16},     {"torch", "BFloat16Storage", GLOBAL_STORAGE, TENSOR_BF16},
    {"torch", "FloatStorage", GLOBAL_STORAGE, TENSOR_F32},    {"torch", "DoubleStorage", GLOBAL_STORAGE, TENSOR_F64},
    {"torch", "ByteStorage", GLOBAL_STORAGE, TENSOR_U8},      {"torch", "CharStorage", GLOBAL_STORAGE, TENSOR_I8},
    {"torch", "ShortStorage", GLOBAL_STORAGE, TENSOR_I16},    {"torch", "IntStorage", GLOBAL_STORAGE, TENSOR_I32},
    {"torch", "LongStorage", GLOBAL_STORAGE, TENSOR_I64},     {"torch", "BoolStorage", GLOBAL_STORAGE, TENSOR_BOOL},
};

static int fail(pickle_vm *vm, const char *cause) {
    return error_set(vm->err, MEMPROF_ERR, "%s: pickle byte %zu: %s", vm->path, vm->opcode_position, cause);
}

// Grows *array (of element_size) to hold at least `needed` elements, up to `limit`.
static int grow(pickle_vm *vm, void **array, int *capacity, int needed, size_t element_size, int limit) {
    if (needed <= *capacity) return 0;
    if (needed > limit) return fail(vm, "object limit exceeded");
    int next = *capacity ? *capacity : 16;
    while (next < needed) next = next > limit / 2 ? limit : next * 2;
    void *grown = realloc(*array, (size_t)next * element_size);
    if (!grown) return error_set(vm->err, MEMPROF_ERR_NOMEM, "%s: out of memory in the pickle interpreter", vm->path);
    *array = grown;
    *capacity = next;
    return 0;
}

// Appends a new value to the pool; its index in *out.
static int new_value(pickle_vm *vm, int *out, value_kind kind) {
    int status = grow(vm, (void **)&vm->values, &vm->values_capacity, vm->num_values + 1, sizeof *vm->values,
                      PICKLE_MAX_VALUES);
    if (status) return status;
    memset(&vm->values[vm->num_values], 0, sizeof *vm->values);
    vm->values[vm->num_values].kind = kind;
    *out = vm->num_values++;
    return 0;
}

static int push(pickle_vm *vm, int index) {
    int status = grow(vm, (void **)&vm->stack, &vm->stack_capacity, vm->depth + 1, sizeof *vm->stack, PICKLE_MAX_VALUES);
    if (status) return status;
    vm->stack[vm->depth++] = index;
    return 0;
}

static int push_new(pickle_vm *vm, value_kind kind, int64_t number) {
    int index, status = new_value(vm, &index, kind);
    if (status) return status;
    vm->values[index].number = number;
    return push(vm, index);
}

static int stack_floor(const pickle_vm *vm) { return vm->num_marks ? vm->marks[vm->num_marks - 1] : 0; }

static int pop(pickle_vm *vm, int *out) {
    if (vm->depth <= stack_floor(vm)) return fail(vm, "stack underflow");
    *out = vm->stack[--vm->depth];
    return 0;
}

static int top(pickle_vm *vm, int *out) {
    if (vm->depth <= stack_floor(vm)) return fail(vm, "stack underflow");
    *out = vm->stack[vm->depth - 1];
    return 0;
}

// Removes the topmost mark; *first = stack position of the first item above it.
static int pop_mark(pickle_vm *vm, int *first) {
    if (vm->num_marks == 0) return fail(vm, "no MARK on the stack");
    *first = vm->marks[--vm->num_marks];
    return 0;
}

static int append_item(pickle_vm *vm, value *container, int item) {
    int status = grow(vm, (void **)&container->items, &container->capacity, container->count + 1, sizeof(int),
                      PICKLE_MAX_VALUES);
    if (status) return status;
    container->items[container->count++] = item;
    return 0;
}

// Moves stack[first..depth) into a new container of `kind` and pushes it.
static int collect(pickle_vm *vm, value_kind kind, int first) {
    int index, status = new_value(vm, &index, kind);
    for (int i = first; status == 0 && i < vm->depth; i++) status = append_item(vm, &vm->values[index], vm->stack[i]);
    if (status) return status;
    vm->depth = first;
    return push(vm, index);
}

// Appends stack[first..depth) to the list or dict below them (APPEND(S), SETITEM(S)).
static int extend(pickle_vm *vm, value_kind kind, int first) {
    if (first <= stack_floor(vm) || first > vm->depth) return fail(vm, "stack underflow");
    value *target = &vm->values[vm->stack[first - 1]];
    if (target->kind != kind) return fail(vm, kind == VALUE_DICT ? "SETITEM(S) target is not a dict"
                                                                 : "APPEND(S) target is not a list");
    if (kind == VALUE_DICT && (vm->depth - first) % 2 != 0) return fail(vm, "odd number of SETITEMS items");
    for (int i = first; i < vm->depth; i++) {
        int status = append_item(vm, target, vm->stack[i]);
        if (status) return status;
    }
    vm->depth = first;
    return 0;
}

static int read_bytes(pickle_vm *vm, const uint8_t **out, uint64_t count) {
    if (count > vm->size - vm->position) return fail(vm, "truncated pickle");
    *out = vm->data + vm->position;
    vm->position += (size_t)count;
    return 0;
}

static int read_unsigned(pickle_vm *vm, uint64_t *out, int bytes) {
    const uint8_t *p = NULL;
    int status = read_bytes(vm, &p, (uint64_t)bytes);
    if (status) return status;
    *out = 0;
    for (int i = bytes - 1; i >= 0; i--) *out = (*out << 8) | p[i];
    return 0;
}

static int push_string(pickle_vm *vm, int length_bytes) {
    uint64_t length;
    const uint8_t *bytes = NULL;
    int index, status;
    if ((status = read_unsigned(vm, &length, length_bytes)) || (status = read_bytes(vm, &bytes, length)) ||
        (status = new_value(vm, &index, VALUE_STRING)))
        return status;
    vm->values[index].text = (const char *)bytes;
    vm->values[index].text_length = (size_t)length;
    return push(vm, index);
}

static int string_equals(const value *v, const char *s) {
    return v->kind == VALUE_STRING && v->text_length == strlen(s) && memcmp(v->text, s, v->text_length) == 0;
}

static int push_global(pickle_vm *vm, const char *module, size_t module_length, const char *name, size_t name_length) {
    for (size_t i = 0; i < sizeof allowed_globals / sizeof allowed_globals[0]; i++) {
        if (strlen(allowed_globals[i].module) == module_length && strlen(allowed_globals[i].name) == name_length &&
            memcmp(allowed_globals[i].module, module, module_length) == 0 &&
            memcmp(allowed_globals[i].name, name, name_length) == 0) {
            int index, status = new_value(vm, &index, VALUE_GLOBAL);
            if (status) return status;
            vm->values[index].number = allowed_globals[i].kind;
            vm->values[index].dtype = allowed_globals[i].dtype;
            return push(vm, index);
        }
    }
    char shown[2][80];  // the refused names come from untrusted bytes
    printable_excerpt(shown[0], sizeof shown[0], module, module_length);
    printable_excerpt(shown[1], sizeof shown[1], name, name_length);
    return error_set(vm->err, MEMPROF_ERR, "%s: pickle byte %zu: forbidden GLOBAL \"%s %s\" (only torch storage, "
                     "tensor-rebuild and OrderedDict globals are allowed)", vm->path, vm->opcode_position, shown[0],
                     shown[1]);
}

// GLOBAL: "module\nname\n" inline.
static int read_line(pickle_vm *vm, const char **out, size_t *length) {
    const uint8_t *start = vm->data + vm->position;
    const uint8_t *newline = memchr(start, '\n', vm->size - vm->position);
    if (!newline) return fail(vm, "GLOBAL without a newline");
    *out = (const char *)start;
    *length = (size_t)(newline - start);
    vm->position += *length + 1;
    return 0;
}

static int memo_store(pickle_vm *vm, uint64_t key) {
    int item = 0, status = top(vm, &item);
    if (status) return status;
    if (key >= PICKLE_MAX_MEMO) return fail(vm, "memo key too large");
    int old = vm->memo_capacity;
    if ((status = grow(vm, (void **)&vm->memo, &vm->memo_capacity, (int)key + 1, sizeof(int), PICKLE_MAX_MEMO)))
        return status;
    if (vm->memo_capacity > old) memset(vm->memo + old, 0, (size_t)(vm->memo_capacity - old) * sizeof(int));
    if (vm->memo[key] == 0) vm->memo_count++;
    vm->memo[key] = item + 1;
    return 0;
}

static int memo_fetch(pickle_vm *vm, uint64_t key) {
    if (key >= (uint64_t)vm->memo_capacity || vm->memo[key] == 0) return fail(vm, "memo key not found");
    return push(vm, vm->memo[key] - 1);
}

// BINPERSID: ('storage', <StorageClass>, key, location, numel) -> a storage.
static int persistent_load(pickle_vm *vm) {
    int pid = 0, status = pop(vm, &pid);
    if (status) return status;
    const value *t = &vm->values[pid];
    if (t->kind != VALUE_TUPLE || t->count != 5) return fail(vm, "persistent id is not a 5-tuple");
    const value *tag = &vm->values[t->items[0]], *type = &vm->values[t->items[1]];
    const value *key = &vm->values[t->items[2]], *location = &vm->values[t->items[3]];
    const value *numel = &vm->values[t->items[4]];
    if (!string_equals(tag, "storage")) return fail(vm, "persistent id is not a ('storage', ...) tuple");
    if (type->kind != VALUE_GLOBAL || type->number != GLOBAL_STORAGE) return fail(vm, "persistent id without a storage type");
    if (key->kind != VALUE_STRING || key->text_length >= sizeof vm->tensors[0].storage_key ||
        tensor_name_check(key->text, key->text_length) != 0 || memchr(key->text, '/', key->text_length))
        return fail(vm, "storage key is not a short string");
    if (location->kind != VALUE_STRING) return fail(vm, "storage location is not a string");
    if (numel->kind != VALUE_INT || numel->number < 0) return fail(vm, "storage size is not a non-negative integer");
    int index;
    if ((status = new_value(vm, &index, VALUE_STORAGE))) return status;
    value *storage = &vm->values[index];
    t = &vm->values[pid];  // the pool may have moved
    storage->dtype = vm->values[t->items[1]].dtype;
    storage->text = vm->values[t->items[2]].text;
    storage->text_length = vm->values[t->items[2]].text_length;
    storage->number = vm->values[t->items[4]].number;
    return push(vm, index);
}

// Reads a tuple of non-negative ints (size or stride) into dims; returns its length or -1.
static int read_dims(const pickle_vm *vm, int64_t *dims, int tuple) {
    const value *t = &vm->values[tuple];
    if (t->kind != VALUE_TUPLE || t->count > TENSOR_MAX_DIMS) return -1;
    for (int i = 0; i < t->count; i++) {
        const value *d = &vm->values[t->items[i]];
        if (d->kind != VALUE_INT || d->number < 0) return -1;
        dims[i] = d->number;
    }
    return t->count;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata]):
// only C-contiguous views that stay inside their storage are accepted.
static int rebuild_tensor(pickle_vm *vm, int args) {
    const value *a = &vm->values[args];
    if (a->kind != VALUE_TUPLE || (a->count != 6 && a->count != 7))
        return fail(vm, "_rebuild_tensor_v2 expects 6 or 7 arguments");
    const value *storage = &vm->values[a->items[0]], *offset = &vm->values[a->items[1]];
    if (storage->kind != VALUE_STORAGE) return fail(vm, "_rebuild_tensor_v2: first argument is not a storage");
    if (offset->kind != VALUE_INT || offset->number < 0) return fail(vm, "_rebuild_tensor_v2: bad storage offset");
    pickle_tensor t = {0};
    t.ndim = read_dims(vm, t.shape, a->items[2]);
    int stride_dims = read_dims(vm, t.stride, a->items[3]);
    if (t.ndim < 0 || stride_dims != t.ndim)
        return fail(vm, "_rebuild_tensor_v2: size and stride must be equal-length tuples of at most 8 integers");
    // numel, with overflow checks; then contiguity (strides of size-1 dims do not matter).
    int64_t numel = 1, expected_stride = 1;
    for (int i = t.ndim - 1; i >= 0; i--) {
        if (t.shape[i] != 0 && numel > INT64_MAX / t.shape[i]) return fail(vm, "_rebuild_tensor_v2: size too large");
        numel *= t.shape[i];
    }
    for (int i = t.ndim - 1; i >= 0 && numel > 0; i--) {
        if (t.shape[i] != 1 && t.stride[i] != expected_stride)
            return fail(vm, "_rebuild_tensor_v2: non-contiguous stride is not supported");
        expected_stride *= t.shape[i];
    }
    if (offset->number > storage->number || numel > storage->number - offset->number)
        return fail(vm, "_rebuild_tensor_v2: storage_offset + size runs past the end of the storage");
    t.dtype = storage->dtype;
    memcpy(t.storage_key, storage->text, storage->text_length);
    t.storage_key[storage->text_length] = '\0';
    t.storage_numel = storage->number;
    t.storage_offset = offset->number;
    int status = grow(vm, (void **)&vm->tensors, &vm->tensors_capacity, vm->num_tensors + 1, sizeof t, PICKLE_MAX_VALUES);
    if (status) return status;
    vm->tensors[vm->num_tensors] = t;
    return push_new(vm, VALUE_TENSOR, vm->num_tensors++);
}

static int reduce(pickle_vm *vm) {
    int args = 0, callable = 0, status;
    if ((status = pop(vm, &args)) || (status = pop(vm, &callable))) return status;
    const value *f = &vm->values[callable], *a = &vm->values[args];
    if (f->kind != VALUE_GLOBAL) return fail(vm, "REDUCE of something that is not an allowed global");
    if (a->kind != VALUE_TUPLE) return fail(vm, "REDUCE arguments are not a tuple");
    switch ((global_kind)f->number) {
    case GLOBAL_ORDERED_DICT:
        if (a->count != 0) return fail(vm, "OrderedDict() with arguments is not supported");
        return push_new(vm, VALUE_DICT, 0);
    case GLOBAL_REBUILD_TENSOR:
        return rebuild_tensor(vm, args);
    case GLOBAL_REBUILD_PARAMETER:
        if (a->count < 1 || vm->values[a->items[0]].kind != VALUE_TENSOR)
            return fail(vm, "_rebuild_parameter: first argument is not a tensor");
        return push(vm, a->items[0]);
    default:
        return fail(vm, "a storage class cannot be called");
    }
}

static int push_long(pickle_vm *vm) {  // LONG1: n bytes of little-endian two's complement
    uint64_t n, v = 0;
    const uint8_t *p = NULL;
    int status;
    if ((status = read_unsigned(vm, &n, 1)) || (status = read_bytes(vm, &p, n))) return status;
    if (n > 8) return fail(vm, "integer wider than 64 bits");
    for (int i = (int)n - 1; i >= 0; i--) v = (v << 8) | p[i];
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~(uint64_t)0 << (8 * n);  // sign-extend
    return push_new(vm, VALUE_INT, (int64_t)v);
}

// Executes one opcode; *stop = result index + 1 at STOP.
static int step(pickle_vm *vm, int *stop) {
    vm->opcode_position = vm->position;
    const uint8_t *op_byte = NULL;
    int status = read_bytes(vm, &op_byte, 1);
    if (status) return status;
    uint64_t n;
    int a = 0, b = 0, first = 0;
    switch (*op_byte) {
    case 0x80: /* PROTO */
        if ((status = read_unsigned(vm, &n, 1))) return status;
        return n <= 5 ? 0 : fail(vm, "unsupported pickle protocol");
    case 0x95: /* FRAME: a length hint only */ return read_unsigned(vm, &n, 8);
    case 'c': { /* GLOBAL */
        const char *module, *name;
        size_t module_length, name_length;
        if ((status = read_line(vm, &module, &module_length)) || (status = read_line(vm, &name, &name_length)))
            return status;
        return push_global(vm, module, module_length, name, name_length);
    }
    case 0x93: /* STACK_GLOBAL */
        if ((status = pop(vm, &b)) || (status = pop(vm, &a))) return status;
        if (vm->values[a].kind != VALUE_STRING || vm->values[b].kind != VALUE_STRING)
            return fail(vm, "STACK_GLOBAL needs two strings");
        return push_global(vm, vm->values[a].text, vm->values[a].text_length, vm->values[b].text,
                           vm->values[b].text_length);
    case '(': /* MARK */
        if ((status = grow(vm, (void **)&vm->marks, &vm->marks_capacity, vm->num_marks + 1, sizeof(int),
                           PICKLE_MAX_VALUES)))
            return status;
        vm->marks[vm->num_marks++] = vm->depth;
        return 0;
    case 't': /* TUPLE */ return (status = pop_mark(vm, &first)) ? status : collect(vm, VALUE_TUPLE, first);
    case ')': /* EMPTY_TUPLE */ return collect(vm, VALUE_TUPLE, vm->depth);
    case 0x85: case 0x86: case 0x87: /* TUPLE1..3 */ {
        int count = *op_byte - 0x84;
        if (vm->depth - count < stack_floor(vm)) return fail(vm, "stack underflow");
        return collect(vm, VALUE_TUPLE, vm->depth - count);
    }
    case 'l': /* LIST */ return (status = pop_mark(vm, &first)) ? status : collect(vm, VALUE_LIST, first);
    case ']': /* EMPTY_LIST */ return collect(vm, VALUE_LIST, vm->depth);
    case 'a': /* APPEND */ return extend(vm, VALUE_LIST, vm->depth - 1);
    case 'e': /* APPENDS */ return (status = pop_mark(vm, &first)) ? status : extend(vm, VALUE_LIST, first);
    case 'd': /* DICT */
        if ((status = pop_mark(vm, &first))) return status;
        if ((vm->depth - first) % 2) return fail(vm, "odd number of DICT items");
        return collect(vm, VALUE_DICT, first);
    case '}': /* EMPTY_DICT */ return collect(vm, VALUE_DICT, vm->depth);
    case 's': /* SETITEM */ return extend(vm, VALUE_DICT, vm->depth - 2);
    case 'u': /* SETITEMS */ return (status = pop_mark(vm, &first)) ? status : extend(vm, VALUE_DICT, first);
    case 'X': /* BINUNICODE */ return push_string(vm, 4);
    case 0x8c: /* SHORT_BINUNICODE */ return push_string(vm, 1);
    case 0x8d: /* BINUNICODE8 */ return push_string(vm, 8);
    case 'K': /* BININT1 */ return (status = read_unsigned(vm, &n, 1)) ? status : push_new(vm, VALUE_INT, (int64_t)n);
    case 'M': /* BININT2 */ return (status = read_unsigned(vm, &n, 2)) ? status : push_new(vm, VALUE_INT, (int64_t)n);
    case 'J': /* BININT */
        return (status = read_unsigned(vm, &n, 4)) ? status : push_new(vm, VALUE_INT, (int64_t)(int32_t)(uint32_t)n);
    case 0x8a: /* LONG1 */ return push_long(vm);
    case 'G': { /* BINFLOAT: big-endian double */
        const uint8_t *p = NULL;
        if ((status = read_bytes(vm, &p, 8))) return status;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = (bits << 8) | p[i];
        int index;
        if ((status = new_value(vm, &index, VALUE_FLOAT))) return status;
        memcpy(&vm->values[index].real, &bits, sizeof bits);
        return push(vm, index);
    }
    case 0x88: /* NEWTRUE */ return push_new(vm, VALUE_BOOL, 1);
    case 0x89: /* NEWFALSE */ return push_new(vm, VALUE_BOOL, 0);
    case 'N': /* NONE */ return push_new(vm, VALUE_NONE, 0);
    case 'R': /* REDUCE */ return reduce(vm);
    case 'b': /* BUILD: object state (e.g. _metadata) is ignored */
        if ((status = pop(vm, &a))) return status;
        return top(vm, &b);
    case 'Q': /* BINPERSID */ return persistent_load(vm);
    case 'q': /* BINPUT */ return (status = read_unsigned(vm, &n, 1)) ? status : memo_store(vm, n);
    case 'r': /* LONG_BINPUT */ return (status = read_unsigned(vm, &n, 4)) ? status : memo_store(vm, n);
    case 0x94: /* MEMOIZE: memo[len(memo)] = top */ return memo_store(vm, (uint64_t)vm->memo_count);
    case 'h': /* BINGET */ return (status = read_unsigned(vm, &n, 1)) ? status : memo_fetch(vm, n);
    case 'j': /* LONG_BINGET */ return (status = read_unsigned(vm, &n, 4)) ? status : memo_fetch(vm, n);
    case '0': /* POP */ return pop(vm, &a);
    case '1': /* POP_MARK */ return (status = pop_mark(vm, &first)) ? status : (vm->depth = first, 0);
    case '2': /* DUP */ return (status = top(vm, &a)) ? status : push(vm, a);
    case '.': /* STOP */
        if ((status = pop(vm, &a))) return status;
        *stop = a + 1;
        return 0;
    default: {
        char cause[64];
        snprintf(cause, sizeof cause, "unsupported opcode 0x%02x", *op_byte);
        return fail(vm, cause);
    }
    }
}

// The STOP result must be a dict of string -> tensor; copies it into pickle_tensor records.
static int extract_state_dict(pickle_tensor **out, int *out_count, pickle_vm *vm, int result) {
    const value *dict = &vm->values[result];
    if (dict->kind != VALUE_DICT) return fail(vm, "the pickle's result is not a dict (state_dict)");
    int count = dict->count / 2;
    pickle_tensor *tensors = calloc(count ? (size_t)count : 1, sizeof *tensors);
    if (!tensors) return error_set(vm->err, MEMPROF_ERR_NOMEM, "%s: out of memory", vm->path);
    for (int i = 0; i < count; i++) {
        const value *key = &vm->values[dict->items[2 * i]], *item = &vm->values[dict->items[2 * i + 1]];
        int status = 0;
        if (key->kind != VALUE_STRING || tensor_name_check(key->text, key->text_length) != 0)
            status = fail(vm, "state_dict key is not a tensor name string");
        else if (item->kind != VALUE_TENSOR)
            status = error_set(vm->err, MEMPROF_ERR, "%s: state_dict entry \"%.*s\" is not a tensor", vm->path,
                               (int)key->text_length, key->text);  // checked printable just above
        if (status) {
            free(tensors);
            return status;
        }
        tensors[i] = vm->tensors[item->number];
        memcpy(tensors[i].name, key->text, key->text_length);
        tensors[i].name[key->text_length] = '\0';
    }
    *out = tensors;
    *out_count = count;
    return 0;
}

int pickle_load_state_dict(pickle_tensor **out_tensors, int *out_count, const uint8_t *data, size_t size,
                           const char *path, memprof_error *err) {
    *out_tensors = NULL;
    *out_count = 0;
    pickle_vm vm = {.data = data, .size = size, .path = path, .err = err};
    int status = 0, stop = 0;
    while (status == 0 && stop == 0) {
        if (vm.position >= vm.size) {
            vm.opcode_position = vm.position;
            status = fail(&vm, "pickle ends without STOP");
        } else {
            status = step(&vm, &stop);
        }
    }
    if (status == 0) status = extract_state_dict(out_tensors, out_count, &vm, stop - 1);
    for (int i = 0; i < vm.num_values; i++) free(vm.values[i].items);
    free(vm.values);
    free(vm.stack);
    free(vm.marks);
    free(vm.memo);
    free(vm.tensors);
    return status;
}
