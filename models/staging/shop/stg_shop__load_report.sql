-- What `retail-lift prepare` did with each raw table of the input folder.
with

source as (

    select * from {{ source('shop', 'load_report') }}

),

renamed as (

    select
        cast(table_name as string) as table_name,
        cast(status as string) as status,
        cast(source_file as string) as source_file,
        cast(note as string) as note,
        cast(row_count as bigint) as row_count,
        cast(rejected_lines as bigint) as rejected_lines

    from source

)

select * from renamed
