/* SPDX-License-Identifier: MIT */
#pragma once

#include "smsprov/class.h"

/* The descriptor tables of classes.c. They are not const: sms_model_init() fills in the derived
 * fields (flattened property lists, children) once at start. */
extern SmsClass sms_class_package_base;
extern SmsClass sms_class_boot_image_package;
extern SmsClass sms_class_image_package;
extern SmsClass sms_class_os_install_package;
extern SmsClass sms_class_status_message;
extern SmsClass sms_class_image_information;
extern SmsClass sms_class_winpe_optional_component;
extern SmsClass sms_class_dp_info;
extern SmsClass sms_class_distribution_point;
extern SmsClass sms_class_distribution_status;
/* classes-site-systems.c */
extern SmsClass sms_class_provider_location;
extern SmsClass sms_class_system_resource_list;
extern SmsClass sms_class_schedule_methods;
extern SmsClass sms_class_driver;
extern SmsClass sms_class_driver_ref;

extern SmsClass *const sms_model_class_table[];
