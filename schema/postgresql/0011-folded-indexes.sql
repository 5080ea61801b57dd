-- WQL compares strings without regard to case: on PostgreSQL as lower(("column") COLLATE "C") on
-- both sides (src/store/store-wql.c), which the plain indexes of the nocase columns cannot serve,
-- so that each WHERE PackageID = '…' or Name = '…' read every row. These indexes hold that
-- expression, for the keys and for the columns SQLite indexes.
CREATE INDEX package_id_folded ON package (lower(("PackageID") COLLATE "C"));
CREATE INDEX package_name_folded ON package (lower(("Name") COLLATE "C"));
CREATE INDEX injection_status_folded ON injection_status (lower(("ContextID") COLLATE "C"));
CREATE INDEX image_information_folded ON image_information (lower(("PackageID") COLLATE "C"));
CREATE INDEX distribution_point_info_folded ON distribution_point_info (lower(("NALPath") COLLATE "C"));
CREATE INDEX distribution_package_folded ON distribution (lower(("PackageID") COLLATE "C"));
CREATE INDEX distribution_dp_folded ON distribution (lower(("ServerNALPath") COLLATE "C"));
CREATE INDEX driver_unique_id_folded ON driver (lower(("CI_UniqueID") COLLATE "C"));
CREATE INDEX driver_class_folded ON driver (lower(("DriverClass") COLLATE "C"));
