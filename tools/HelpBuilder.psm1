# Turns docs/<Command>.md (PlatyPS markdown schema 2.0.0) into MAML (en-US/RhaiiGke.dll-Help.xml).
# PlatyPS is not obtainable here, so this is a small, strict re-implementation: the markdown holds the
# prose; syntax, parameter metadata and types come from the built module through Get-Command.
Set-StrictMode -Version 3.0

$script:CommonParameters = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters

function Read-CommandMarkdown {
    [CmdletBinding()]
    param([Parameter(Mandatory)][string]$Path)
    $text = (Get-Content -LiteralPath $Path -Raw) -replace "`r`n", "`n"
    $doc = [ordered]@{ Path = $Path; Name = $null; Synopsis = ''; Description = ''; Examples = @(); Parameters = [ordered]@{}; Inputs = @(); Outputs = @(); Notes = ''; Links = @() }
    if ($text -match '(?s)^---\n(.*?)\n---\n') { $text = $text.Substring($Matches[0].Length) }
    if ($text -match '(?m)^# (\S+)\s*$') { $doc.Name = $Matches[1] }
    # Split into H2 sections (not inside code fences).
    $sections = [ordered]@{}
    $current = $null; $buffer = [System.Collections.Generic.List[string]]::new(); $inFence = $false
    foreach ($line in $text -split "`n") {
        if ($line -match '^```') { $inFence = -not $inFence }
        if (-not $inFence -and $line -match '^## (.+?)\s*$') {
            if ($current) { $sections[$current] = ($buffer -join "`n") }
            $current = $Matches[1].Trim().ToUpperInvariant(); $buffer.Clear(); continue
        }
        if ($current) { $buffer.Add($line) }
    }
    if ($current) { $sections[$current] = ($buffer -join "`n") }

    $doc.Synopsis = Get-Prose ($sections['SYNOPSIS'])
    $doc.Description = Get-Prose ($sections['DESCRIPTION'])
    $doc.Notes = Get-Prose ($sections['NOTES'])
    foreach ($sub in Split-H3 $sections['EXAMPLES']) {
        $code = ''; $remarks = $sub.Body
        if ($sub.Body -match '(?s)```[a-zA-Z]*\n(.*?)\n```') {
            $code = $Matches[1]
            $remarks = $sub.Body.Substring($sub.Body.IndexOf($Matches[0]) + $Matches[0].Length)
        }
        # Further fenced blocks (sample output) become indented text: Get-Help shows no markdown.
        $remarks = [regex]::Replace($remarks, '(?s)```[a-zA-Z]*\n(.*?)\n```', { param($m) ($m.Groups[1].Value -split "`n" | ForEach-Object { "    $_" }) -join "`n" })
        $doc.Examples += [pscustomobject]@{ Title = $sub.Title; Code = $code; Remarks = (Get-Prose $remarks) }
    }
    foreach ($sub in Split-H3 $sections['PARAMETERS']) {
        if ($sub.Title -notmatch '^-(\S+)') { continue }
        $name = $Matches[1]
        $prose = $sub.Body -replace '(?s)```yaml\n.*?\n```', ''
        $doc.Parameters[$name] = Get-Prose $prose
    }
    foreach ($kind in 'INPUTS', 'OUTPUTS') {
        $items = foreach ($sub in Split-H3 $sections[$kind]) { [pscustomobject]@{ Type = $sub.Title; Description = (Get-Prose $sub.Body) } }
        $doc[($kind.Substring(0, 1) + $kind.Substring(1).ToLowerInvariant())] = @($items)
    }
    if ($sections['RELATED LINKS']) {
        $doc.Links = @([regex]::Matches($sections['RELATED LINKS'], '\[([^\]]+)\]\(([^)]*)\)') | ForEach-Object { [pscustomobject]@{ Text = $_.Groups[1].Value; Uri = $_.Groups[2].Value } })
    }
    [pscustomobject]$doc
}

function Get-Prose([string]$Text) {
    if (-not $Text) { return '' }
    ($Text.Trim() -replace '\n{3,}', "`n`n")
}

function Split-H3([string]$Text) {
    if (-not $Text) { return }
    $title = $null; $buffer = [System.Collections.Generic.List[string]]::new(); $inFence = $false
    foreach ($line in $Text -split "`n") {
        if ($line -match '^```') { $inFence = -not $inFence }
        if (-not $inFence -and $line -match '^### (.+?)\s*$') {
            if ($title) { [pscustomobject]@{ Title = $title; Body = ($buffer -join "`n") } }
            $title = $Matches[1]; $buffer.Clear(); continue
        }
        if ($title) { $buffer.Add($line) }
    }
    if ($title) { [pscustomobject]@{ Title = $title; Body = ($buffer -join "`n") } }
}

function Get-CommandParameters($Command) {
    $Command.Parameters.Values | Where-Object { $_.Name -notin $script:CommonParameters } | Sort-Object Name
}

function Test-CommandMarkdown {
    <# Returns a list of problems (strings); empty when the doc is complete. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)]$Command, [Parameter(Mandatory)]$Doc)
    $problems = [System.Collections.Generic.List[string]]::new()
    $n = $Command.Name
    if ($Doc.Name -ne $n) { $problems.Add("${n}: the H1 title is '$($Doc.Name)'") }
    if (-not $Doc.Synopsis -or $Doc.Synopsis -match '\{\{') { $problems.Add("${n}: no SYNOPSIS") }
    if (-not $Doc.Description -or $Doc.Description -match '\{\{') { $problems.Add("${n}: no DESCRIPTION") }
    if (@($Doc.Examples | Where-Object { $_.Code -and $_.Code -notmatch '\{\{' }).Count -eq 0) { $problems.Add("${n}: no EXAMPLE with code") }
    foreach ($p in Get-CommandParameters $Command) {
        if (-not $Doc.Parameters.Contains($p.Name) -or -not $Doc.Parameters[$p.Name] -or $Doc.Parameters[$p.Name] -match '\{\{') {
            $problems.Add("${n}: parameter -$($p.Name) is not documented")
        }
    }
    foreach ($documented in $Doc.Parameters.Keys) {
        if (-not $Command.Parameters.ContainsKey($documented)) { $problems.Add("${n}: docs describe -$documented, which the command does not have") }
    }
    if (@($Doc.Outputs).Count -eq 0) { $problems.Add("${n}: no OUTPUTS") }
    $problems
}

function Get-SyntaxText($Command) {
    foreach ($set in $Command.ParameterSets) {
        $parts = [System.Collections.Generic.List[string]]::new(); $parts.Add($Command.Name)
        foreach ($p in $set.Parameters | Where-Object { $_.Name -notin $script:CommonParameters }) {
            $isSwitch = $p.ParameterType -eq [System.Management.Automation.SwitchParameter]
            $typeName = if ($isSwitch) { '' } else { " <$($p.ParameterType.Name)>" }
            $namePart = if ($p.Position -ge 0 -and -not $isSwitch) { "[-$($p.Name)]$typeName" } else { "-$($p.Name)$typeName" }
            $parts.Add($(if ($p.IsMandatory) { $namePart } else { "[$namePart]" }))
        }
        if ($Command.Parameters.ContainsKey('WhatIf')) { $parts.Add('[-WhatIf]'); $parts.Add('[-Confirm]') }
        $parts.Add('[<CommonParameters>]')
        [pscustomobject]@{ Name = $set.Name; IsDefault = $set.IsDefault; Text = ($parts -join ' ') }
    }
}

function Get-ParameterYaml($Command, $Parameter) {
    $sets = @($Parameter.ParameterSets.Keys)
    $setText = if ($sets -contains '__AllParameterSets' -or $sets.Count -eq $Command.ParameterSets.Count) { '(All)' } else { ($sets | Sort-Object) -join ', ' }
    $attr = @($Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
    $mandatory = [bool]($attr | Where-Object Mandatory)
    $positions = @($attr | Where-Object { $_.Position -ge 0 } | ForEach-Object Position)
    $byValue = [bool]($attr | Where-Object ValueFromPipeline)
    $byName = [bool]($attr | Where-Object ValueFromPipelineByPropertyName)
    $pipeline = if ($byValue -and $byName) { 'True (ByValue, ByPropertyName)' } elseif ($byValue) { 'True (ByValue)' } elseif ($byName) { 'True (ByPropertyName)' } else { 'False' }
    $validateSet = $Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
    $lines = @(
        "Type: $($Parameter.ParameterType.Name)"
        "Parameter Sets: $setText"
        "Aliases: $(if ($Parameter.Aliases.Count) { $Parameter.Aliases -join ', ' })"
    )
    if ($validateSet) { $lines += "Accepted values: $($validateSet.ValidValues -join ', ')" }
    $lines += @(
        ''
        "Required: $mandatory"
        "Position: $(if ($positions.Count) { $positions[0] } else { 'Named' })"
        'Default value: None'
        "Accept pipeline input: $pipeline"
        'Accept wildcard characters: False'
    )
    $lines -join "`n"
}

function Update-CommandMarkdown {
    <# Writes docs/<Command>.md: creates a scaffold for a new command, or refreshes SYNTAX and the
       parameter yaml blocks of an existing one, keeping its prose. Placeholders '{{ Fill ... }}'
       make the help test fail until someone writes the prose. #>
    [CmdletBinding(SupportsShouldProcess)]
    param([Parameter(Mandatory)]$Command, [Parameter(Mandatory)][string]$DocsPath)
    $path = Join-Path $DocsPath "$($Command.Name).md"
    $doc = if (Test-Path $path) { Read-CommandMarkdown $path } else { $null }
    $sb = [System.Text.StringBuilder]::new()
    $null = $sb.Append("---`nexternal help file: RhaiiGke.dll-Help.xml`nModule Name: RhaiiGke`nonline version:`nschema: 2.0.0`n---`n`n# $($Command.Name)`n`n## SYNOPSIS`n")
    $null = $sb.Append("$(if ($doc -and $doc.Synopsis) { $doc.Synopsis } else { '{{ Fill in the Synopsis }}' })`n`n## SYNTAX`n")
    foreach ($s in Get-SyntaxText $Command) {
        $null = $sb.Append("`n### $($s.Name)$(if ($s.IsDefault) { ' (Default)' })`n```````n$($s.Text)`n```````n")
    }
    $null = $sb.Append("`n## DESCRIPTION`n$(if ($doc -and $doc.Description) { $doc.Description } else { '{{ Fill in the Description }}' })`n`n## EXAMPLES`n")
    if ($doc -and $doc.Examples) {
        foreach ($e in $doc.Examples) {
            $null = $sb.Append("`n### $($e.Title)`n``````powershell`n$($e.Code)`n```````n")
            if ($e.Remarks) { $null = $sb.Append("`n$($e.Remarks)`n") }
        }
    } else {
        $null = $sb.Append("`n### Example 1`n``````powershell`n{{ Add example code here }}`n```````n`n{{ Add example description here }}`n")
    }
    $null = $sb.Append("`n## PARAMETERS`n")
    foreach ($p in Get-CommandParameters $Command) {
        $desc = if ($doc -and $doc.Parameters.Contains($p.Name) -and $doc.Parameters[$p.Name]) { $doc.Parameters[$p.Name] } else { "{{ Fill $($p.Name) Description }}" }
        $null = $sb.Append("`n### -$($p.Name)`n$desc`n`n``````yaml`n$(Get-ParameterYaml $Command $p)`n```````n")
    }
    $null = $sb.Append("`n### CommonParameters`nThis cmdlet supports the common parameters: -Debug, -ErrorAction, -ErrorVariable, -InformationAction, -InformationVariable, -OutVariable, -OutBuffer, -PipelineVariable, -ProgressAction, -Verbose, -WarningAction, and -WarningVariable. For more information, see [about_CommonParameters](http://go.microsoft.com/fwlink/?LinkID=113216).`n`n## INPUTS`n")
    if ($doc -and $doc.Inputs) { foreach ($i in $doc.Inputs) { $null = $sb.Append("`n### $($i.Type)`n$($i.Description)`n") } }
    else { $null = $sb.Append("`n### None`n{{ Fill in what the command takes from the pipeline }}`n") }
    $null = $sb.Append("`n## OUTPUTS`n")
    $outputs = @($Command.OutputType | ForEach-Object Name | Select-Object -Unique)
    if ($doc -and $doc.Outputs) { foreach ($o in $doc.Outputs) { $null = $sb.Append("`n### $($o.Type)`n$($o.Description)`n") } }
    else { foreach ($o in $outputs) { $null = $sb.Append("`n### $o`n{{ Fill in the output description }}`n") } }
    $null = $sb.Append("`n## NOTES`n$(if ($doc) { $doc.Notes })`n`n## RELATED LINKS`n")
    if ($doc -and $doc.Links) { foreach ($l in $doc.Links) { $null = $sb.Append("`n[$($l.Text)]($($l.Uri))`n") } }
    else { $null = $sb.Append("`n[about_RhaiiGke](about_RhaiiGke.md)`n") }
    if ($PSCmdlet.ShouldProcess($path, 'Write help markdown')) {
        [System.IO.File]::WriteAllText($path, ($sb.ToString() -replace "`n{3,}", "`n`n"))
    }
}

function ConvertTo-MamlHelp {
    [CmdletBinding()]
    param([Parameter(Mandatory)][object[]]$Commands, [Parameter(Mandatory)][hashtable]$Docs, [Parameter(Mandatory)][string]$OutFile)
    $ns = @{ maml = 'http://schemas.microsoft.com/maml/2004/10'; command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'; dev = 'http://schemas.microsoft.com/maml/dev/2004/10' }
    $settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
    $null = New-Item -ItemType Directory -Force -Path (Split-Path $OutFile)
    $w = [System.Xml.XmlWriter]::Create($OutFile, $settings)
    function Para([string]$text) {
        foreach ($p in ($text -split "`n`n")) { if ($p.Trim()) { $w.WriteElementString('para', $ns.maml, $p.Trim()) } }
    }
    try {
        $w.WriteStartDocument()
        $w.WriteStartElement('helpItems', 'http://msh'); $w.WriteAttributeString('schema', 'maml')
        foreach ($ns2 in $ns.GetEnumerator()) { $w.WriteAttributeString('xmlns', $ns2.Key, $null, $ns2.Value) }
        foreach ($c in $Commands | Sort-Object Name) {
            $d = $Docs[$c.Name]
            $w.WriteStartElement('command', 'command', $ns.command)
            $w.WriteStartElement('details', $ns.command)
            $w.WriteElementString('name', $ns.command, $c.Name)
            $w.WriteElementString('verb', $ns.command, $c.Verb)
            $w.WriteElementString('noun', $ns.command, $c.Noun)
            $w.WriteStartElement('description', $ns.maml); Para $d.Synopsis; $w.WriteEndElement()
            $w.WriteEndElement()
            $w.WriteStartElement('description', $ns.maml); Para $d.Description; $w.WriteEndElement()
            $w.WriteStartElement('syntax', $ns.command)
            foreach ($set in $c.ParameterSets) {
                $w.WriteStartElement('syntaxItem', $ns.command)
                $w.WriteElementString('name', $ns.maml, $c.Name)
                foreach ($p in $set.Parameters | Where-Object { $_.Name -notin $script:CommonParameters }) { Write-MamlParameter $w $ns $c $p.Name $d $set }
                $w.WriteEndElement()
            }
            $w.WriteEndElement()
            $w.WriteStartElement('parameters', $ns.command)
            foreach ($p in Get-CommandParameters $c) { Write-MamlParameter $w $ns $c $p.Name $d $null }
            $w.WriteEndElement()
            foreach ($kind in @(@('inputTypes', 'inputType', $d.Inputs), @('returnValues', 'returnValue', $d.Outputs))) {
                $w.WriteStartElement($kind[0], $ns.command)
                foreach ($item in $kind[2]) {
                    $w.WriteStartElement($kind[1], $ns.command)
                    $w.WriteStartElement('type', $ns.dev); $w.WriteElementString('name', $ns.maml, $item.Type); $w.WriteEndElement()
                    $w.WriteStartElement('description', $ns.maml); Para $item.Description; $w.WriteEndElement()
                    $w.WriteEndElement()
                }
                $w.WriteEndElement()
            }
            if ($d.Notes) {
                $w.WriteStartElement('alertSet', $ns.maml); $w.WriteStartElement('alert', $ns.maml); Para $d.Notes; $w.WriteEndElement(); $w.WriteEndElement()
            }
            $w.WriteStartElement('examples', $ns.command)
            $i = 0
            foreach ($e in $d.Examples) {
                $i++
                $w.WriteStartElement('example', $ns.command)
                $title = if ($e.Title -match '^Example') { $e.Title } else { "Example ${i}: $($e.Title)" }
                $w.WriteElementString('title', $ns.maml, "-------------------------- $title --------------------------")
                $w.WriteElementString('code', $ns.dev, $e.Code)
                $w.WriteStartElement('remarks', $ns.dev); Para $e.Remarks; $w.WriteEndElement()
                $w.WriteEndElement()
            }
            $w.WriteEndElement()
            $w.WriteStartElement('relatedLinks', $ns.command)
            foreach ($l in $d.Links) {
                $w.WriteStartElement('navigationLink', $ns.maml)
                $w.WriteElementString('linkText', $ns.maml, $l.Text)
                $w.WriteElementString('uri', $ns.maml, $(if ($l.Uri -match '^https?://') { $l.Uri } else { '' }))
                $w.WriteEndElement()
            }
            $w.WriteEndElement()
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
        $w.WriteEndDocument()
    } finally { $w.Dispose() }
}

function Write-MamlParameter($w, $ns, $c, [string]$name, $d, $set) {
    $meta = $c.Parameters[$name]
    $setParam = if ($set) { $set.Parameters | Where-Object Name -eq $name | Select-Object -First 1 } else { $null }
    $attrs = @($meta.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
    $mandatory = if ($setParam) { $setParam.IsMandatory } else { [bool]($attrs | Where-Object Mandatory) }
    $position = if ($setParam) { $setParam.Position } else { $attrs | ForEach-Object Position | Where-Object { $_ -ge 0 } | Select-Object -First 1 }
    $byValue = [bool]($attrs | Where-Object ValueFromPipeline); $byName = [bool]($attrs | Where-Object ValueFromPipelineByPropertyName)
    $pipeline = if ($byValue -and $byName) { 'True (ByValue, ByPropertyName)' } elseif ($byValue) { 'True (ByValue)' } elseif ($byName) { 'True (ByPropertyName)' } else { 'False' }
    $isSwitch = $meta.ParameterType -eq [System.Management.Automation.SwitchParameter]
    $w.WriteStartElement('parameter', $ns.command)
    $w.WriteAttributeString('required', $mandatory.ToString().ToLowerInvariant())
    $w.WriteAttributeString('variableLength', 'true')
    $w.WriteAttributeString('globbing', 'false')
    $w.WriteAttributeString('pipelineInput', $pipeline)
    $w.WriteAttributeString('position', $(if ($null -ne $position -and $position -ge 0) { "$($position + 1)" } else { 'named' }))
    $w.WriteAttributeString('aliases', $(if ($meta.Aliases.Count) { $meta.Aliases -join ', ' } else { 'none' }))
    $w.WriteElementString('name', $ns.maml, $name)
    $w.WriteStartElement('description', $ns.maml)
    foreach ($p in ("$($d.Parameters[$name])" -split "`n`n")) { if ($p.Trim()) { $w.WriteElementString('para', $ns.maml, $p.Trim()) } }
    $w.WriteEndElement()
    $validateSet = $meta.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
    if ($validateSet) {
        $w.WriteStartElement('parameterValueGroup', $ns.command)
        foreach ($v in $validateSet.ValidValues) {
            $w.WriteStartElement('parameterValue', $ns.command); $w.WriteAttributeString('required', 'false'); $w.WriteAttributeString('variableLength', 'false'); $w.WriteString($v); $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    if (-not $isSwitch) {
        $w.WriteStartElement('parameterValue', $ns.command); $w.WriteAttributeString('required', 'true'); $w.WriteAttributeString('variableLength', 'false'); $w.WriteString($meta.ParameterType.Name); $w.WriteEndElement()
    }
    $w.WriteStartElement('type', $ns.dev); $w.WriteElementString('name', $ns.maml, $meta.ParameterType.FullName); $w.WriteEndElement()
    $w.WriteElementString('defaultValue', $ns.dev, $(if ($isSwitch) { 'False' } else { 'None' }))
    $w.WriteEndElement()
}

Export-ModuleMember -Function Read-CommandMarkdown, Test-CommandMarkdown, Update-CommandMarkdown, ConvertTo-MamlHelp
