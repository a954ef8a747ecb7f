//! The types every pbc environment starts with: descriptor.proto's
//! messages as pbc knows them (the proto2 descriptor of its day,
//! registered as the file `descriptor`), so `protobuf.decode(
//! "google.protobuf.FileDescriptorSet", bytes)` works before anything is
//! registered.
//!
//! One line per type: `M name` then `field number label type [type_name]
//! [default]` lines (label 1 optional, 2 required, 3 repeated, 4 packed;
//! types numbered as descriptor.proto numbers them), or `E name` then
//! `value number` lines.

use super::env::Env;

const SPEC: &str = "
M google.protobuf.FileDescriptorSet
file 1 3 11 google.protobuf.FileDescriptorProto
M google.protobuf.FileDescriptorProto
name 1 1 9
package 2 1 9
dependency 3 3 9
message_type 4 3 11 google.protobuf.DescriptorProto
enum_type 5 3 11 google.protobuf.EnumDescriptorProto
service 6 3 11 google.protobuf.ServiceDescriptorProto
extension 7 3 11 google.protobuf.FieldDescriptorProto
options 8 1 11 google.protobuf.FileOptions
source_code_info 9 1 11 google.protobuf.SourceCodeInfo
M google.protobuf.DescriptorProto
name 1 1 9
field 2 3 11 google.protobuf.FieldDescriptorProto
extension 6 3 11 google.protobuf.FieldDescriptorProto
nested_type 3 3 11 google.protobuf.DescriptorProto
enum_type 4 3 11 google.protobuf.EnumDescriptorProto
extension_range 5 3 11 google.protobuf.DescriptorProto.ExtensionRange
options 7 1 11 google.protobuf.MessageOptions
M google.protobuf.DescriptorProto.ExtensionRange
start 1 1 5
end 2 1 5
M google.protobuf.FieldDescriptorProto
name 1 1 9
number 3 1 5
label 4 1 14 google.protobuf.FieldDescriptorProto.Label
type 5 1 14 google.protobuf.FieldDescriptorProto.Type
type_name 6 1 9
extendee 2 1 9
default_value 7 1 9
options 8 1 11 google.protobuf.FieldOptions
E google.protobuf.FieldDescriptorProto.Type
TYPE_DOUBLE 1
TYPE_FLOAT 2
TYPE_INT64 3
TYPE_UINT64 4
TYPE_INT32 5
TYPE_FIXED64 6
TYPE_FIXED32 7
TYPE_BOOL 8
TYPE_STRING 9
TYPE_GROUP 10
TYPE_MESSAGE 11
TYPE_BYTES 12
TYPE_UINT32 13
TYPE_ENUM 14
TYPE_SFIXED32 15
TYPE_SFIXED64 16
TYPE_SINT32 17
TYPE_SINT64 18
E google.protobuf.FieldDescriptorProto.Label
LABEL_OPTIONAL 1
LABEL_REQUIRED 2
LABEL_REPEATED 3
M google.protobuf.EnumDescriptorProto
name 1 1 9
value 2 3 11 google.protobuf.EnumValueDescriptorProto
options 3 1 11 google.protobuf.EnumOptions
M google.protobuf.EnumValueDescriptorProto
name 1 1 9
number 2 1 5
options 3 1 11 google.protobuf.EnumValueOptions
M google.protobuf.ServiceDescriptorProto
name 1 1 9
method 2 3 11 google.protobuf.MethodDescriptorProto
options 3 1 11 google.protobuf.ServiceOptions
M google.protobuf.MethodDescriptorProto
name 1 1 9
input_type 2 1 9
output_type 3 1 9
options 4 1 11 google.protobuf.MethodOptions
M google.protobuf.FileOptions
java_package 1 1 9
java_outer_classname 8 1 9
java_multiple_files 10 1 8 - false
java_generate_equals_and_hash 20 1 8 - false
optimize_for 9 1 14 google.protobuf.FileOptions.OptimizeMode SPEED
cc_generic_services 16 1 8 - false
java_generic_services 17 1 8 - false
py_generic_services 18 1 8 - false
uninterpreted_option 999 3 11 google.protobuf.UninterpretedOption
E google.protobuf.FileOptions.OptimizeMode
SPEED 1
CODE_SIZE 2
LITE_RUNTIME 3
M google.protobuf.MessageOptions
message_set_wire_format 1 1 8 - false
no_standard_descriptor_accessor 2 1 8 - false
uninterpreted_option 999 3 11 google.protobuf.UninterpretedOption
M google.protobuf.FieldOptions
ctype 1 1 14 google.protobuf.FieldOptions.CType STRING
packed 2 1 8
deprecated 3 1 8 - false
experimental_map_key 9 1 9
uninterpreted_option 999 3 11 google.protobuf.UninterpretedOption
E google.protobuf.FieldOptions.CType
STRING 0
CORD 1
STRING_PIECE 2
M google.protobuf.EnumOptions
uninterpreted_option 999 3 11 google.protobuf.UninterpretedOption
M google.protobuf.EnumValueOptions
uninterpreted_option 999 3 11 google.protobuf.UninterpretedOption
M google.protobuf.ServiceOptions
uninterpreted_option 999 3 11 google.protobuf.UninterpretedOption
M google.protobuf.MethodOptions
uninterpreted_option 999 3 11 google.protobuf.UninterpretedOption
M google.protobuf.UninterpretedOption
name 2 3 11 google.protobuf.UninterpretedOption.NamePart
identifier_value 3 1 9
positive_int_value 4 1 4
negative_int_value 5 1 3
double_value 6 1 1
string_value 7 1 12
aggregate_value 8 1 9
M google.protobuf.UninterpretedOption.NamePart
name_part 1 2 9
is_extension 2 2 8
M google.protobuf.SourceCodeInfo
location 1 3 11 google.protobuf.SourceCodeInfo.Location
M google.protobuf.SourceCodeInfo.Location
path 1 4 5
span 2 4 5
";

/// An environment holding pbc's built-in types.
pub fn env() -> Env {
    let mut env = Env::default();
    let mut cur: Option<(bool, String)> = None;
    for line in SPEC.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let w: Vec<&str> = line.split(' ').collect();
        match (w[0], w.get(1)) {
            ("M", Some(n)) => {
                env.add_message(n.as_bytes());
                cur = Some((true, (*n).to_string()));
            }
            ("E", Some(n)) => cur = Some((false, (*n).to_string())),
            _ => match &cur {
                Some((true, m)) => {
                    let num = |i: usize| w.get(i).and_then(|s| s.parse::<i32>().ok()).unwrap_or(0);
                    let tn = w.get(4).filter(|s| **s != "-").map(|s| s.as_bytes());
                    let def = w.get(5).map(|s| s.as_bytes());
                    env.add_field(
                        m.as_bytes(),
                        w[0].as_bytes(),
                        num(1),
                        num(2),
                        num(3) as u8,
                        tn,
                        def,
                    );
                }
                Some((false, e)) => {
                    let n = w.get(1).and_then(|s| s.parse::<i32>().ok()).unwrap_or(0);
                    env.add_enum_value(e.as_bytes(), w[0].as_bytes(), n);
                }
                None => {}
            },
        }
    }
    env.files.insert(b"descriptor".to_vec());
    env.resolve_all();
    env
}
